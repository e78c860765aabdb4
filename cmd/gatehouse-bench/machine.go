package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes where a run happened, from /proc (Linux).
type machine struct {
	Cores     int    `json:"cores"`
	CPUModel  string `json:"cpuModel,omitempty"`
	MemTotal  uint64 `json:"memTotalBytes,omitempty"`
	OS        string `json:"os"`
	GoVersion string `json:"goVersion"`
	// LoadAvg is /proc/loadavg's 1-minute figure when the run started: other
	// work on a shared machine shows up here and in each scenario's
	// OtherCPU.
	LoadAvg string `json:"loadAvg1m,omitempty"`
}

func readMachine() machine {
	m := machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				m.MemTotal = parseKB(v)
				break
			}
		}
	}
	m.LoadAvg = loadAvg()
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / clockTicks }

// machineBusy is the CPU time all cores have spent not idle (user, nice,
// system, irq, softirq, steal) since boot, from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		n, _ := strconv.ParseUint(f[i], 10, 64)
		busy += n
	}
	return ticks(busy)
}

// processCPUTime is a process's user+system CPU time, from
// /proc/<pid>/stat.
func processCPUTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after its closing
	// parenthesis start at field 3 (state).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseUint(f[12], 10, 64) // field 15
	return ticks(utime + stime)
}
