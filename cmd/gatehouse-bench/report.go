package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// report is one run: where, how, and every scenario's result.
type report struct {
	Started  time.Time   `json:"started"`
	Machine  machine     `json:"machine"`
	Settings settings    `json:"settings"`
	Results  []result    `json:"results"`
	Seed     *seedResult `json:"seed,omitempty"`
}

type settings struct {
	Concurrency    int           `json:"concurrency"`
	Rate           float64       `json:"openLoopRate,omitempty"`
	Warmup         time.Duration `json:"warmupNs"`
	Duration       time.Duration `json:"durationNs"`
	MaxRequests    int64         `json:"maxRequests"`
	Storage        string        `json:"storage"`
	ServerLogLevel string        `json:"serverLogLevel"`
	KubeLatency    time.Duration `json:"kubeLatencyNs"`
	KubeHTTP2      bool          `json:"kubeHTTP2"`
	Smoke          bool          `json:"smoke"`
	Profiled       bool          `json:"profiledServer"`
}

func settingsOf(o options) settings {
	storage := "sqlite (fresh, temp dir)"
	if o.storage != "" {
		storage = server.RedactStorageURL(o.storage)
	}
	return settings{
		Concurrency: o.concurrency, Rate: o.rate, Warmup: o.warmup, Duration: o.duration, MaxRequests: o.maxRequests,
		Storage: storage, ServerLogLevel: o.serverLogLevel, KubeLatency: o.kubeLatency, KubeHTTP2: o.kubeHTTP2,
		Smoke: o.smoke, Profiled: o.serverCPUProfile != "",
	}
}

// result is one scenario's outcome.
type result struct {
	Name       string     `json:"name"`
	About      string     `json:"about"`
	Note       string     `json:"note,omitempty"`
	Skipped    string     `json:"skipped,omitempty"`
	SetupError string     `json:"setupError,omitempty"`
	Load       loadResult `json:"load"`
	Memory     *memory    `json:"serverMemory,omitempty"`
	// CPU used during the load, in cores: by the server under test, by the
	// bench itself (the load generator) and by everything else.
	ServerCPU  float64 `json:"serverCPUCores"`
	LoadGenCPU float64 `json:"loadGenCPUCores"`
	OtherCPU   float64 `json:"otherCPUCores"`
	// BesideCPU is the CPU of the process the server calls (the test
	// Kubernetes API server in a Kubernetes login), counted apart from
	// "other"; BesideName names it.
	BesideCPU  float64 `json:"besideCPUCores,omitempty"`
	BesideName string  `json:"beside,omitempty"`

	Ceiling    string   `json:"ceiling,omitempty"`
	Ratio      *float64 `json:"ratioToCeiling,omitempty"`
	AlsoVs     string   `json:"alsoComparedWith,omitempty"`
	AlsoRatio  *float64 `json:"ratioToAlso,omitempty"`
	Target     string   `json:"target,omitempty"`
	TargetMet  *bool    `json:"targetMet,omitempty"`
	targetNote string
	targetP99  time.Duration
}

func (r *result) ran() bool { return r.Skipped == "" && r.SetupError == "" }

// finish works out each result's ratio to its ceiling and its target.
func (rep *report) finish(scs []scenario) {
	byName := map[string]*result{}
	for i := range rep.Results {
		byName[rep.Results[i].Name] = &rep.Results[i]
	}
	for _, sc := range scs {
		r := byName[sc.name]
		if r == nil || sc.ceiling == "" || !r.ran() {
			continue
		}
		if a := byName[sc.alsoVs]; a != nil && a.ran() && a.Load.RPS > 0 && a.Load.Errors == 0 {
			ratio := r.Load.RPS / a.Load.RPS
			r.AlsoVs, r.AlsoRatio = sc.alsoVs, &ratio
		}
		c := byName[sc.ceiling]
		if c == nil || !c.ran() || c.Load.RPS == 0 || c.Load.Errors > 0 {
			r.targetNote = "no valid " + sc.ceiling + " figure in this run"
			continue
		}
		ratio := r.Load.RPS / c.Load.RPS
		r.Ratio = &ratio
		if sc.target == nil {
			continue
		}
		if rep.Settings.Rate > 0 {
			// Open loop: every scenario is offered the same rate, so the
			// ratio says nothing; only a p99 target can be judged, and only
			// if the rate was kept up.
			r.Ratio = nil
			if sc.target.maxP99 > 0 {
				met := r.Load.Errors == 0 && r.Load.RPS >= 0.95*rep.Settings.Rate && r.Load.P99 < sc.target.maxP99
				r.TargetMet = &met
			}
			continue
		}
		met := r.Load.Errors == 0 && ratio >= sc.target.minRatio && (sc.target.maxP99 == 0 || r.Load.P99 < sc.target.maxP99)
		r.TargetMet = &met
	}
}

// failed reports whether any scenario had errors or could not be set up.
func (rep *report) failed() bool {
	for _, r := range rep.Results {
		if r.SetupError != "" || r.Load.Errors > 0 {
			return true
		}
	}
	return false
}

func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeMarkdown writes the run as Markdown ready for BENCHMARKS.md.
func (rep *report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	m, s := rep.Machine, rep.Settings
	fmt.Fprintf(&b, "### gatehouse-bench, %s\n\n", rep.Started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Machine: %d cores", m.Cores)
	if m.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", m.CPUModel)
	}
	if m.MemTotal > 0 {
		fmt.Fprintf(&b, ", %.1f GiB RAM", float64(m.MemTotal)/(1<<30))
	}
	fmt.Fprintf(&b, ", %s, %s", m.OS, m.GoVersion)
	if m.LoadAvg != "" {
		fmt.Fprintf(&b, "; load average %s at start", m.LoadAvg)
	}
	b.WriteString(".\n")
	if s.Rate > 0 {
		fmt.Fprintf(&b, "- **Open loop**: %s requests/s offered to every scenario (at most %d in flight), latency measured from each request's due time.\n", thousands(s.Rate), s.Concurrency)
	}
	fmt.Fprintf(&b, "- Settings: concurrency %d, %s warm-up + %s per scenario, store %s, gatehouse log level %s, TokenReview latency %s.",
		s.Concurrency, s.Warmup, s.Duration, s.Storage, s.ServerLogLevel, s.KubeLatency)
	if s.Smoke {
		b.WriteString(" **Smoke run: figures mean nothing, only errors count.**")
	}
	if s.Profiled {
		b.WriteString(" **Server under a CPU profiler (--server-cpuprofile).**")
	}
	if rep.Seed != nil {
		b.WriteString("\n" + strings.TrimSuffix(rep.Seed.line(), "\n"))
	}
	b.WriteString("\n\n")
	b.WriteString("| scenario | req/s | p50 | p90 | p99 | errors | server RSS end / peak | CPU cores server / bench / other | vs ceiling | issue-7 target |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|---|---|\n")
	for _, r := range rep.Results {
		b.WriteString(r.markdownRow())
	}
	var notes []string
	for _, r := range rep.Results {
		notes = append(notes, r.notes()...)
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *result) markdownRow() string {
	switch {
	case r.Skipped != "":
		return fmt.Sprintf("| %s | skipped | | | | | | | | %s |\n", r.Name, r.verdict())
	case r.SetupError != "" && r.Load.Requests == 0:
		return fmt.Sprintf("| %s | **setup failed** | | | | | | | | |\n", r.Name)
	}
	l := r.Load
	errs := strconv.FormatInt(l.Errors, 10)
	if l.Errors > 0 {
		errs = "**" + errs + "**"
	}
	rss := "n/a"
	if r.Memory != nil {
		rss = fmt.Sprintf("%.1f / %.1f MiB", mib(r.Memory.RSS), mib(r.Memory.Peak))
	}
	vs := "ceiling"
	if l.Rate > 0 {
		vs = fmt.Sprintf("open loop: %.0f %% of the %s req/s offered", 100*l.RPS/l.Rate, thousands(l.Rate))
	} else if r.Ceiling != "" {
		vs = "n/a"
		if r.Ratio != nil {
			vs = fmt.Sprintf("%.0f %% of %s", *r.Ratio*100, r.Ceiling)
		}
		if r.AlsoRatio != nil {
			vs += fmt.Sprintf("; %.0f %% of %s", *r.AlsoRatio*100, r.AlsoVs)
		}
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %.2f / %.2f / %.2f | %s | %s |\n",
		r.Name, thousands(l.RPS), formatMS(l.P50), formatMS(l.P90), formatMS(l.P99), errs, rss,
		r.ServerCPU, r.LoadGenCPU, r.OtherCPU, vs, r.verdict())
}

func (r *result) verdict() string {
	switch {
	case r.Skipped != "":
		return "not measured: " + r.Skipped
	case r.Target == "":
		return "—"
	case r.Load.Rate > 0 && r.TargetMet == nil:
		return r.Target + ": n/a (open loop judges p99 only)"
	case r.Load.Rate > 0:
		verdict := "**missed**"
		if *r.TargetMet {
			verdict = "met"
		}
		return fmt.Sprintf("p99 < %s at %s req/s: %s", formatMS(r.targetP99), thousands(r.Load.Rate), verdict)
	case r.TargetMet == nil:
		return r.Target + ": n/a"
	case *r.TargetMet:
		return r.Target + ": met"
	}
	return r.Target + ": **missed**"
}

func (r *result) notes() []string {
	var out []string
	if r.Note != "" {
		out = append(out, fmt.Sprintf("**%s**: %s.", r.Name, strings.TrimSuffix(r.Note, ".")))
	}
	if r.BesideName != "" && r.ran() {
		out = append(out, fmt.Sprintf("**%s**: the %s it calls used %.2f cores beside it (not in \"other\").", r.Name, r.BesideName, r.BesideCPU))
	}
	if r.SetupError != "" {
		out = append(out, fmt.Sprintf("**%s**: setup failed: `%s`", r.Name, oneLine(r.SetupError)))
	}
	if r.Load.Late > 0 {
		out = append(out, fmt.Sprintf("**%s**: %d request(s) were sent over 1 ms after their due time (every worker busy); their wait is in the latency.", r.Name, r.Load.Late))
	}
	if r.Load.Unsent > 0 {
		out = append(out, fmt.Sprintf("**%s**: %d request(s) due during the run were never sent (every worker busy to the end): the offered rate was not kept, and their latency is not in the quantiles.", r.Name, r.Load.Unsent))
	}
	if r.Load.StoppedBy != "" {
		out = append(out, fmt.Sprintf("**%s**: stopped early: %s.", r.Name, r.Load.StoppedBy))
	}
	for _, e := range r.Load.ErrorSamples {
		out = append(out, fmt.Sprintf("**%s**: error: `%s`", r.Name, oneLine(e)))
	}
	if r.ran() && r.OtherCPU > busyMachine {
		out = append(out, fmt.Sprintf("**%s**: the rest of the machine used %.2f cores during this scenario; its figures (and ratios built on them) are unreliable.", r.Name, r.OtherCPU))
	}
	if r.targetNote != "" {
		out = append(out, fmt.Sprintf("**%s**: %s.", r.Name, r.targetNote))
	}
	return out
}

// busyMachine is how much CPU (in cores) other processes may use during a
// scenario before its figures are flagged.
const busyMachine = 0.25

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// formatMS prints a latency in milliseconds, with more digits when small.
func formatMS(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// thousands prints a rate rounded to a whole number with thousands
// separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
