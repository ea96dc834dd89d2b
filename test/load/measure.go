package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// smallSize is the size of the hot and unique objects and of the warm-up
// object every client reads before the clock starts.
const (
	smallSize = 1 << 10
	warmSize  = smallSize
)

// measurement is one scenario run against one target. Zero fields were not
// measured for that scenario.
type measurement struct {
	Scenario string
	Target   string
	Clients  int    `json:",omitempty"`
	Note     string `json:",omitempty"`

	Requests          int     // completed with status 200 and a checked body
	Errors            int     // failed requests
	FirstError        string  `json:",omitempty"`
	Seconds           float64 // from the first request sent to the last response read
	RequestsPerSecond float64 `json:",omitempty"`
	MBPerSecond       float64 `json:",omitempty"` // 10^6 bytes of body per second
	P50Ms             float64 `json:",omitempty"`
	P99Ms             float64 `json:",omitempty"`
	MaxMs             float64 `json:",omitempty"`

	// UpstreamCalls counts the GETs of the scenario's objects that reached
	// the counting proxy; -1 when the target bypasses it.
	UpstreamCalls int
	// UpstreamRTT* are the counting proxy's times from a call's arrival to
	// the last byte of its response relayed back.
	UpstreamRTTP50Ms float64 `json:",omitempty"`
	UpstreamRTTMaxMs float64 `json:",omitempty"`

	// WindowMs is the agent's batch window; MinCallGapMs is the smallest
	// time between the arrivals of two upstream GETs of the hot key, and
	// MaxCallsPerWindow the most GETs of it that arrived within any one
	// window length.
	WindowMs          float64 `json:",omitempty"`
	MinCallGapMs      float64 `json:",omitempty"`
	MaxCallsPerWindow int     `json:",omitempty"`

	// For a hot key with a batch window, each request's time split at the
	// upstream call that served it: from sending the request to the call
	// reaching the counting proxy (waiting for the group's dispatch), the
	// call up to its first response byte at the proxy, and from there to
	// the response fully read (relay, fan-out and delivery). Max* are the
	// largest of each over all requests, and Slowest* split the slowest
	// request.
	MaxDispatchWaitMs  float64 `json:",omitempty"`
	MaxDeliveryMs      float64 `json:",omitempty"`
	SlowestDispatchMs  float64 `json:",omitempty"`
	SlowestUpstreamMs  float64 `json:",omitempty"`
	SlowestDeliveryMs  float64 `json:",omitempty"`
	DispatchOverWindow int     `json:",omitempty"` // requests whose dispatch wait exceeded the window

	// Fan-out: time to first byte at each reader, from its request, and
	// the latest reader's first byte after the counting proxy received the
	// first byte of the (earliest) upstream response.
	TTFBP50Ms      float64 `json:",omitempty"`
	TTFBMaxMs      float64 `json:",omitempty"`
	FirstByteLagMs float64 `json:",omitempty"`

	PeakRSSMiB        float64 `json:",omitempty"` // agent's VmHWM
	AgentCPUPercent   float64 `json:",omitempty"` // of one core, during the measurement
	AgentCPUMicros    float64 `json:",omitempty"` // agent CPU time per completed request
	ForeignCPUPercent float64 // of one core: processes outside the benchmark
}

// target is where a measurement sends its load.
type target struct {
	name string
	// agent is the configuration to start; nil means straight to
	// versitygw.
	agent *agentConfig
	// viaCounter sends direct requests through the counting proxy, the
	// same extra hop the agent's calls take.
	viaCounter bool
}

var (
	directNoCounter = target{name: "versitygw direct", viaCounter: false}
	directCounter   = target{name: "versitygw via counter", viaCounter: true}
)

// selected reports whether -targets includes t.
func (o *options) selected(t target) bool {
	if len(o.targets) == 0 {
		return true
	}
	for _, part := range o.targets {
		if strings.Contains(t.name, part) {
			return true
		}
	}
	return false
}

func agentTarget(cfg agentConfig) target {
	return target{name: cfg.name, agent: &cfg, viaCounter: true}
}

// session is a measurement in progress.
type session struct {
	e       *environment
	m       *measurement
	target  target
	ep      *endpoint
	agent   *agent
	began   time.Time
	cpu     cpuSample
	profile chan struct{} // closed when the CPU profile is written

	agentSeconds float64 // agent CPU time during the measurement
}

// begin waits for a quiet machine, starts the agent when the target needs
// one and returns the session whose endpoint the load is sent to.
func (e *environment) begin(ctx context.Context, m *measurement, t target) (*session, error) {
	e.waitQuiet(ctx)
	s := &session{e: e, m: m, target: t}
	m.Target = t.name
	m.UpstreamCalls = -1
	if t.agent != nil {
		a, err := e.startAgent(*t.agent, e.counter.URL, false)
		if err != nil {
			return nil, err
		}
		s.agent = a
		s.ep = helperEndpoint(t.name, a.helperURL)
		m.WindowMs = ms(t.agent.window)
		return s, nil
	}
	base := e.upstream
	if t.viaCounter {
		base = e.counter.URL
	}
	s.ep = s3Endpoint(t.name, base, e.creds, e.opts.region)
	return s, nil
}

// started resets the counters. The load calls it right before the clock
// starts.
func (s *session) started() {
	s.e.counter.reset()
	s.began = time.Now()
	s.cpu = s.e.sampleCPU(s.agentPID())
	if s.agent != nil && s.e.opts.profileDir != "" {
		s.captureProfile()
	}
}

func (s *session) agentPID() int {
	if s.agent == nil {
		return 0
	}
	return s.agent.pid()
}

// end records what the counting proxy, /proc and the agent saw, stops the
// agent and returns the upstream calls for the scenario's objects.
func (s *session) end(isScenarioKey func(key string) bool) []*call {
	e, m := s.e, s.m
	elapsed := time.Since(s.began)
	after := e.sampleCPU(s.agentPID())
	agentTicks := after.agentTicks - s.cpu.agentTicks
	m.AgentCPUPercent = round1(float64(agentTicks) / elapsed.Seconds())
	s.agentSeconds = float64(agentTicks) / clockTicksPerSecond
	own := (after.ownTicks - s.cpu.ownTicks) + (after.agentTicks - s.cpu.agentTicks)
	m.ForeignCPUPercent = round1(math.Max(0, float64(after.busyTicks-s.cpu.busyTicks-own)) / elapsed.Seconds())

	var calls []*call
	if s.target.viaCounter {
		for _, c := range e.counter.snapshot() {
			if c.Method == http.MethodGet && c.Bucket == e.bucket && isScenarioKey(c.Key) {
				calls = append(calls, c)
			}
		}
		m.UpstreamCalls = len(calls)
		rtts := make([]time.Duration, len(calls))
		for i, c := range calls {
			rtts[i] = c.RoundTrip()
		}
		slices.Sort(rtts)
		m.UpstreamRTTP50Ms = ms(percentile(rtts, 50))
		m.UpstreamRTTMaxMs = ms(percentile(rtts, 100))
	}

	if s.agent != nil {
		if s.profile != nil {
			select {
			case <-s.profile:
			case <-time.After(time.Minute):
			}
		}
		if rss, err := s.agent.peakRSS(); err == nil {
			m.PeakRSSMiB = round1(float64(rss) / (1 << 20))
		} else {
			e.log.Warn("reading the agent's peak RSS failed", "error", err)
		}
		s.agent.stop()
	}
	return calls
}

// captureProfile starts the agent's CPU profile over the measurement.
// The agent runs with --debug when -profile-dir is set.
func (s *session) captureProfile() {
	seconds := max(1, int(math.Ceil(s.e.opts.duration.Seconds())))
	if s.m.Scenario == "fanout" {
		seconds = 5
	}
	name := fmt.Sprintf("%s-c%d-%s", s.m.Scenario, s.m.Clients, s.target.name)
	s.profile = s.e.captureProfile(s.agent, name, seconds)
}

// captureProfile saves a CPU profile of a over the next seconds into
// -profile-dir, in the background. The returned channel is closed when it
// is done.
func (e *environment) captureProfile(a *agent, name string, seconds int) chan struct{} {
	done := make(chan struct{})
	file := strings.NewReplacer(" ", "_", "/", "_", "(", "", ")", "", ",", "", "=", "-").Replace(name) + ".pprof"
	path := filepath.Join(e.opts.profileDir, file)
	go func() {
		defer close(done)
		if err := fetchProfile(a.helperURL, seconds, path); err != nil {
			e.log.Warn("no CPU profile; run again for one", "name", name, "error", err)
			return
		}
		e.log.Info("CPU profile written", "file", path)
	}()
	return done
}

func fetchProfile(helperURL string, seconds int, path string) error {
	client := &http.Client{Timeout: time.Duration(seconds+30) * time.Second}
	resp, err := client.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", helperURL, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	// A CPU profile is gzip-compressed protocol buffer data. The agent
	// returns "Unknown profile" in plain text when its pprof index handler
	// took the request instead of the profile handler.
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return fmt.Errorf("expected a gzip-compressed profile, got status %d and body %q", resp.StatusCode, data[:min(len(data), 80)])
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// fillLoad records a closed-loop result.
func (m *measurement) fillLoad(r loadResult, size int) {
	slices.Sort(r.latencies)
	m.Requests = len(r.latencies)
	m.Errors = r.errors
	m.FirstError = r.firstError
	m.Seconds = round3(r.elapsed.Seconds())
	m.RequestsPerSecond = round1(float64(m.Requests) / r.elapsed.Seconds())
	m.MBPerSecond = round1(float64(m.Requests) * float64(size) / 1e6 / r.elapsed.Seconds())
	m.P50Ms = ms(percentile(r.latencies, 50))
	m.P99Ms = ms(percentile(r.latencies, 99))
	m.MaxMs = ms(percentile(r.latencies, 100))
}

// cpuSample is a reading of the CPU clock-tick counters.
type cpuSample struct {
	busyTicks  int64 // whole machine
	ownTicks   int64 // this tool and the versitygw it started
	agentTicks int64
}

func (e *environment) sampleCPU(agentPID int) cpuSample {
	busy, _, _ := machineTicks()
	s := cpuSample{busyTicks: busy, ownTicks: processTicks(os.Getpid())}
	if e.gateway != nil {
		s.ownTicks += processTicks(e.gateway.pid())
	}
	if agentPID != 0 {
		s.agentTicks = processTicks(agentPID)
	}
	return s
}

// waitQuiet waits until other processes use at most -quiet-percent of the
// machine over one second, or -quiet-wait has passed. Loads share the
// machine's cores with whatever else runs, so a busy machine skews every
// figure.
func (e *environment) waitQuiet(ctx context.Context) {
	deadline := time.Now().Add(e.opts.quietWait)
	for ctx.Err() == nil {
		busy0, total0, err := machineTicks()
		if err != nil {
			return
		}
		time.Sleep(time.Second)
		busy1, total1, _ := machineTicks()
		pct := 100 * float64(busy1-busy0) / math.Max(1, float64(total1-total0))
		if pct <= e.opts.quietPercent {
			return
		}
		if time.Now().After(deadline) {
			e.log.Warn("machine still busy; measuring anyway", "busy_percent", round1(pct))
			return
		}
		e.log.Info("machine busy; waiting before measuring", "busy_percent", round1(pct))
	}
}

// seedSmall writes a smallSize object for every key, 16 at a time.
func (e *environment) seedSmall(ctx context.Context, keys []string) error {
	sem := make(chan struct{}, 16)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, key := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := e.put(ctx, key, smallSize); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

// put writes key's pattern body of size bytes straight to versitygw.
func (e *environment) put(ctx context.Context, key string, size int64) error {
	_, err := e.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(e.bucket),
		Key:           aws.String(key),
		Body:          newPatternReader(key, size),
		ContentLength: aws.Int64(size),
	})
	if err != nil {
		return fmt.Errorf("PutObject %s (%d bytes): %w", key, size, err)
	}
	return nil
}

// percentile returns the p-th percentile (nearest rank) of sorted, or 0 for
// an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round1(x float64) float64 { return math.Round(x*10) / 10 }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
