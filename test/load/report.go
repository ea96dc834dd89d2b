package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// report collects the measurements of one run and the verdict on each
// target.
type report struct {
	Machine      machine
	Started      time.Time
	Args         []string
	Measurements []*measurement
	Targets      []verdict
}

// verdict is the outcome of one stated target, or a row of evidence with
// no limit when Info is set.
type verdict struct {
	Target   string
	Measured string
	Pass     bool
	Info     bool `json:",omitempty"`
}

func (r *report) add(m *measurement) { r.Measurements = append(r.Measurements, m) }

// find returns the measurement of scenario and target name with the given
// client count (0 matches any), or nil.
func (r *report) find(scenario, name string, clients int) *measurement {
	for _, m := range r.Measurements {
		if m.Scenario == scenario && m.Target == name && (clients == 0 || m.Clients == clients) {
			return m
		}
	}
	return nil
}

// evaluate checks the measurements against the targets.
func (r *report) evaluate(o *options) {
	for _, clients := range o.uniqueClients {
		agent := r.find("unique", agentWindow0.name, clients)
		direct := r.find("unique", directCounter.name, clients)
		bare := r.find("unique", directNoCounter.name, clients)
		if agent == nil || direct == nil {
			continue
		}
		added := agent.P50Ms - direct.P50Ms
		measured := fmt.Sprintf("p50 %.3f ms vs %.3f ms via the counter: +%.3f ms", agent.P50Ms, direct.P50Ms, added)
		if bare != nil {
			measured += fmt.Sprintf(" (versitygw without the counter: %.3f ms)", bare.P50Ms)
		}
		r.Targets = append(r.Targets, verdict{
			Target:   fmt.Sprintf("unique keys, %d clients, --batch-window=0: at most +1 ms p50 over direct", clients),
			Measured: measured + errorsNote(agent, direct),
			Pass:     added <= 1 && agent.Errors == 0 && direct.Errors == 0,
		})
	}

	for _, clients := range o.hotClients {
		m := r.find("hot", agentMax1000.name, clients)
		if m == nil {
			continue
		}
		r.Targets = append(r.Targets, verdict{
			Target: fmt.Sprintf("hot key, %d clients, --max-batch-size=1000: at most one upstream GET per %.0f ms window", clients, m.WindowMs),
			Measured: fmt.Sprintf("%d calls in %.1f s, at most %d within one window, smallest gap %.3f ms",
				m.UpstreamCalls, m.Seconds, m.MaxCallsPerWindow, m.MinCallGapMs),
			Pass: m.MaxCallsPerWindow <= 1 && m.UpstreamCalls > 0,
		})
		limit := m.WindowMs + 2*m.UpstreamRTTP50Ms
		r.Targets = append(r.Targets, verdict{
			Target: fmt.Sprintf("hot key, %d clients, --max-batch-size=1000: max latency at most window + 2 upstream round trips", clients),
			Measured: fmt.Sprintf("max %.3f ms, limit %.0f + 2 × %.3f (median upstream RTT) = %.3f ms; with the largest RTT (%.3f ms): %.3f ms",
				m.MaxMs, m.WindowMs, m.UpstreamRTTP50Ms, limit, m.UpstreamRTTMaxMs, m.WindowMs+2*m.UpstreamRTTMaxMs) + errorsNote(m),
			Pass: m.MaxMs <= limit && m.Errors == 0,
		})
		r.Targets = append(r.Targets, verdict{
			Target: fmt.Sprintf("hot key, %d clients, --max-batch-size=1000: where the slowest requests waited (no limit; evidence)", clients),
			Measured: fmt.Sprintf("slowest request: %.3f ms until its call reached the counting proxy, %.3f ms to the upstream's first byte, %.3f ms from there to the last byte read. Over all requests: at most %.3f ms before dispatch and %.3f ms after the first byte; %d waited longer than the window before dispatch",
				m.SlowestDispatchMs, m.SlowestUpstreamMs, m.SlowestDeliveryMs, m.MaxDispatchWaitMs, m.MaxDeliveryMs, m.DispatchOverWindow),
			Info: true,
		})
	}

	if m := r.find("fanout", agentMax1000.name, 0); m != nil {
		r.Targets = append(r.Targets,
			verdict{
				Target:   fmt.Sprintf("fan-out, %d readers: exactly one upstream call", m.Clients),
				Measured: fmt.Sprintf("%d upstream calls", m.UpstreamCalls) + errorsNote(m),
				Pass:     m.UpstreamCalls == 1 && m.Errors == 0,
			},
			verdict{
				Target:   "fan-out: first byte at every reader within 50 ms of the upstream's first byte",
				Measured: fmt.Sprintf("latest reader %.3f ms after the counting proxy's first byte", m.FirstByteLagMs),
				Pass:     m.Requests > 0 && m.FirstByteLagMs <= 50,
			},
			verdict{
				Target:   "fan-out: agent peak RSS (VmHWM) under 128 MiB",
				Measured: fmt.Sprintf("%.1f MiB", m.PeakRSSMiB),
				Pass:     m.PeakRSSMiB > 0 && m.PeakRSSMiB < 128,
			})
	}

	for _, cfg := range listenerConfigs {
		name := listenerTarget(cfg)
		for _, op := range []string{"PUT", "GET"} {
			direct, agent := r.listenerMean(listenerDirect, op), r.listenerMean(name, op)
			if direct == 0 || agent == 0 {
				continue
			}
			r.Targets = append(r.Targets, verdict{
				Target:   fmt.Sprintf("%s: %s of %s at least 90%% of direct throughput", name, op, sizeString(o.listenerSize)),
				Measured: fmt.Sprintf("%.1f MB/s vs %.1f MB/s direct (mean of %d rounds): %.1f%%", agent, direct, o.listenerRounds, 100*agent/direct),
				Pass:     agent >= 0.9*direct,
			})
		}
		var rss float64
		for _, m := range r.Measurements {
			if m.Scenario == "listener" && m.Target == name {
				rss = m.PeakRSSMiB
			}
		}
		if rss > 0 {
			r.Targets = append(r.Targets, verdict{
				Target:   name + ": agent peak RSS (VmHWM) under 64 MiB",
				Measured: fmt.Sprintf("%.1f MiB", rss),
				Pass:     rss < 64,
			})
		}
	}
}

// listenerMean returns the mean MB/s of op through path over the rounds.
func (r *report) listenerMean(path, op string) float64 {
	sum, n := 0.0, 0
	for _, m := range r.Measurements {
		if m.Scenario == "listener" && m.Target == path && strings.HasPrefix(m.Note, op+" ") {
			sum += m.MBPerSecond
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func errorsNote(ms ...*measurement) string {
	n := 0
	for _, m := range ms {
		n += m.Errors
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d failed requests", n)
}

func sizeString(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// print writes the machine, one markdown table per scenario and the
// verdicts.
func (r *report) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs (%s), %.1f GiB, kernel %s, %s; started %s\n",
		m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.GoVersion, r.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "command: load %s\n", strings.Join(r.Args, " "))

	r.printTable(w, "hot", "Hot key: 1 KiB, closed loop",
		[]string{"target", "clients", "req/s", "p50 ms", "p99 ms", "max ms", "upstream calls", "upstream RTT p50 ms", "calls/window", "min call gap ms", "errors", "peak RSS MiB", "agent CPU %", "agent CPU µs/req", "foreign CPU %"},
		func(m *measurement) []string {
			return []string{m.Target, itoa(m.Clients), f1(m.RequestsPerSecond), f3(m.P50Ms), f3(m.P99Ms), f3(m.MaxMs), calls(m), f3z(m.UpstreamRTTP50Ms),
				dash(m.MaxCallsPerWindow), f3z(m.MinCallGapMs), itoa(m.Errors), f1z(m.PeakRSSMiB), f1z(m.AgentCPUPercent), f1z(m.AgentCPUMicros), f1(m.ForeignCPUPercent)}
		})
	r.printTable(w, "unique", "Unique keys: 1 KiB, every request a new key, closed loop",
		[]string{"target", "clients", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "upstream calls", "errors", "peak RSS MiB", "agent CPU %", "agent CPU µs/req", "foreign CPU %"},
		func(m *measurement) []string {
			return []string{m.Target, itoa(m.Clients), itoa(m.Requests), f1(m.RequestsPerSecond), f3(m.P50Ms), f3(m.P99Ms), f3(m.MaxMs), calls(m),
				itoa(m.Errors), f1z(m.PeakRSSMiB), f1z(m.AgentCPUPercent), f1z(m.AgentCPUMicros), f1(m.ForeignCPUPercent)}
		})
	r.printTable(w, "fanout", "Fan-out: readers request one large object at once",
		[]string{"target", "readers", "seconds", "MB/s (all readers)", "TTFB p50 ms", "TTFB max ms", "first-byte lag ms", "upstream calls", "errors", "peak RSS MiB", "agent CPU %", "foreign CPU %"},
		func(m *measurement) []string {
			return []string{m.Target, itoa(m.Clients), f3(m.Seconds), f1(m.MBPerSecond), f3(m.TTFBP50Ms), f3(m.TTFBMaxMs), f3(m.FirstByteLagMs), calls(m),
				itoa(m.Errors), f1z(m.PeakRSSMiB), f1z(m.AgentCPUPercent), f1(m.ForeignCPUPercent)}
		})
	r.printTable(w, "listener", "S3 listener: single-stream aws-sdk-go-v2 PutObject and GetObject",
		[]string{"path", "operation", "seconds", "MB/s", "peak RSS MiB", "agent CPU %", "foreign CPU %"},
		func(m *measurement) []string {
			return []string{m.Target, m.Note, f3(m.Seconds), f1(m.MBPerSecond), f1z(m.PeakRSSMiB), f1z(m.AgentCPUPercent), f1(m.ForeignCPUPercent)}
		})

	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "\n### Targets\n\n| target | measured | result |\n| --- | --- | --- |\n")
		for _, v := range r.Targets {
			result := "FAIL"
			switch {
			case v.Info:
				result = "info"
			case v.Pass:
				result = "pass"
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", v.Target, v.Measured, result)
		}
	}
	for _, m := range r.Measurements {
		if m.FirstError != "" {
			fmt.Fprintf(w, "\nfirst error, %s / %s: %s\n", m.Scenario, m.Target, m.FirstError)
		}
	}
}

func (r *report) printTable(w io.Writer, scenario, title string, header []string, row func(*measurement) []string) {
	var rows [][]string
	for _, m := range r.Measurements {
		if m.Scenario == scenario {
			rows = append(rows, row(m))
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### %s\n\n| %s |\n|%s\n", title, strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
	for _, cells := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

func (r *report) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the results: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	return nil
}

func calls(m *measurement) string {
	if m.UpstreamCalls < 0 {
		return "-"
	}
	return itoa(m.UpstreamCalls)
}

func itoa(n int) string { return fmt.Sprint(n) }

func dash(n int) string {
	if n == 0 {
		return "-"
	}
	return itoa(n)
}

func f1(x float64) string { return fmt.Sprintf("%.1f", x) }

func f3(x float64) string { return fmt.Sprintf("%.3f", x) }

func f1z(x float64) string {
	if x == 0 {
		return "-"
	}
	return f1(x)
}

func f3z(x float64) string {
	if x == 0 {
		return "-"
	}
	return f3(x)
}
