package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// stopTimeout is how long a subprocess gets to exit after SIGTERM before it
// is killed.
const stopTimeout = 10 * time.Second

// proc is a server subprocess: gatehouse itself or one of the bench's own
// baseline servers. Its stderr is read line by line (so the pipe never
// fills and blocks it); the lines that are not per-request access-log
// lines are kept, the last tailLines of them, to explain a failure.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.Closer // held open: the bench's own helpers exit when it closes
	exited chan struct{}

	mu      sync.Mutex
	tail    []string
	waitErr error
}

const tailLines = 40

// startProc starts path with args and env. onLine, if set, sees every
// stderr line (on the reading goroutine; it must not block).
func startProc(name, path string, args, env []string, stdout io.Writer, onLine func([]byte)) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout = stdout
	setParentDeathSignal(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() {
		p.readStderr(stderr, onLine)
		err := cmd.Wait() // only after every read from the pipe, as exec requires
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) readStderr(r io.Reader, onLine func([]byte)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if onLine != nil {
			onLine(line)
		}
		if isAccessLogLine(line) {
			continue
		}
		p.mu.Lock()
		p.tail = append(p.tail, redactTokens(string(line)))
		if len(p.tail) > tailLines {
			p.tail = p.tail[len(p.tail)-tailLines:]
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // a line over 1 MiB: keep draining
}

// isAccessLogLine tells gatehouse's per-request log lines (level info,
// msg=request) apart from everything worth keeping.
func isAccessLogLine(line []byte) bool {
	return bytes.Contains(line, []byte(" msg=request ")) || bytes.Contains(line, []byte(`"msg":"request"`))
}

var tokenPattern = regexp.MustCompile(regexp.QuoteMeta(secret.PrefixAccessToken) + `[0-9A-Za-z]{` + strconv.Itoa(secret.BodyLen) + `}`)

// redactTokens hides access tokens (the root token is printed once on
// stderr) in lines the bench may show.
func redactTokens(s string) string { return tokenPattern.ReplaceAllString(s, "gth_<redacted>") }

// Tail is the last stderr lines, for error messages.
func (p *proc) Tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// Exited reports whether the process has ended, and how.
func (p *proc) Exited() (bool, error) {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Stop sends SIGTERM, waits up to timeout, then kills. It is safe to call
// on a process that has already exited.
func (p *proc) Stop(timeout time.Duration) error {
	if done, _ := p.Exited(); done {
		return nil
	}
	_ = p.stdin.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = p.cmd.Process.Kill()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, timeout)
	}
}

// memory is a process's resident set size now and its peak, from
// /proc/<pid>/status (Linux only).
type memory struct {
	RSS  uint64 `json:"rssBytes"`
	Peak uint64 `json:"peakRssBytes"`
}

func (p *proc) Memory() (memory, error) { return readMemory(p.cmd.Process.Pid) }

func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memory{}, err
	}
	var m memory
	for line := range strings.SplitSeq(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "VmRSS":
			m.RSS = parseKB(val)
		case "VmHWM":
			m.Peak = parseKB(val)
		}
	}
	if m.RSS == 0 {
		return memory{}, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	return m, nil
}

func parseKB(s string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "kB")), 10, 64)
	return n << 10
}

// ResetPeak restarts VmHWM from the current RSS (Linux: "5" written to
// clear_refs), so each scenario's peak is its own. Best effort.
func (p *proc) ResetPeak() {
	_ = os.WriteFile("/proc/"+strconv.Itoa(p.cmd.Process.Pid)+"/clear_refs", []byte("5"), 0)
}

// CPUTime is the user+system CPU time the process has used (Linux only;
// 0 elsewhere).
func (p *proc) CPUTime() time.Duration {
	if p == nil {
		return 0
	}
	return processCPUTime(p.cmd.Process.Pid)
}
