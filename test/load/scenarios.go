package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// runHot measures clients reading one 1 KiB key back to back, at every
// concurrency in -hot-clients.
func (e *environment) runHot(ctx context.Context, rep *report) error {
	key := e.runID + "/hot-1KiB"
	warm := e.runID + "/warm-hot"
	if err := e.seedSmall(ctx, []string{key, warm}); err != nil {
		return err
	}

	targets := []target{
		directNoCounter, directCounter,
		agentTarget(agentOff), agentTarget(agentDefault), agentTarget(agentWindow0), agentTarget(agentMax1000),
	}
	for _, clients := range e.opts.hotClients {
		for _, t := range targets {
			if !e.opts.selected(t) {
				continue
			}
			m := &measurement{Scenario: "hot", Clients: clients}
			s, err := e.begin(ctx, m, t)
			if err != nil {
				return err
			}
			res := runClosedLoop(ctx, s.ep, loadSpec{
				clients:  clients,
				duration: e.opts.duration,
				bucket:   e.bucket,
				key:      func(int) string { return key },
				size:     smallSize,
				warmKey:  warm,
				started:  s.started,
			})
			calls := s.end(func(k string) bool { return k == key })
			m.fillLoad(res, smallSize)
			m.setAgentCPUPerRequest(s.agentSeconds)
			if t.agent != nil && t.agent.window > 0 {
				m.MinCallGapMs, m.MaxCallsPerWindow = callSpacing(calls, t.agent.window)
				m.splitLatency(res.spans, calls, t.agent.window)
			}
			rep.add(m)
			e.log.Info("measured", "scenario", m.Scenario, "clients", clients, "target", m.Target, "rps", m.RequestsPerSecond,
				"p50_ms", m.P50Ms, "p99_ms", m.P99Ms, "max_ms", m.MaxMs, "upstream_calls", m.UpstreamCalls, "errors", m.Errors)
		}
	}
	return nil
}

// callSpacing returns the smallest gap between the arrivals of two calls
// and the most calls that arrived within any span of one window.
func callSpacing(calls []*call, window time.Duration) (minGapMs float64, perWindow int) {
	starts := make([]time.Time, len(calls))
	for i, c := range calls {
		starts[i] = c.Start
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })

	minGap := time.Duration(-1)
	j := 0
	for i := range starts {
		if i > 0 {
			if gap := starts[i].Sub(starts[i-1]); minGap < 0 || gap < minGap {
				minGap = gap
			}
		}
		// starts[j..i] all lie within one window ending at starts[i].
		for starts[i].Sub(starts[j]) >= window {
			j++
		}
		perWindow = max(perWindow, i-j+1)
	}
	if minGap < 0 {
		return 0, perWindow
	}
	return ms(minGap), perWindow
}

// splitLatency attributes each request to the upstream call that served it
// and splits its time at that call; see measurement.MaxDispatchWaitMs. With
// one key, a window and no joining of calls in flight, the call that served
// a request is the last one whose first response byte reached the counting
// proxy before the request's response was read. The proxy notes a call's
// end only after relaying it, which can be after the agent has already
// responded to its clients, so the end cannot be used.
func (m *measurement) splitLatency(spans []span, calls []*call, window time.Duration) {
	var served []*call
	for _, c := range calls {
		if !c.FirstByte.IsZero() {
			served = append(served, c)
		}
	}
	slices.SortFunc(served, func(a, b *call) int { return a.FirstByte.Compare(b.FirstByte) })

	var slowest time.Duration
	for _, sp := range spans {
		i, _ := slices.BinarySearchFunc(served, sp.end, func(c *call, t time.Time) int { return c.FirstByte.Compare(t) })
		if i == 0 {
			continue
		}
		c := served[i-1]
		dispatch, delivery := c.Start.Sub(sp.start), sp.end.Sub(c.FirstByte)
		m.MaxDispatchWaitMs = max(m.MaxDispatchWaitMs, ms(dispatch))
		m.MaxDeliveryMs = max(m.MaxDeliveryMs, ms(delivery))
		if dispatch > window {
			m.DispatchOverWindow++
		}
		if d := sp.end.Sub(sp.start); d > slowest {
			slowest = d
			m.SlowestDispatchMs, m.SlowestUpstreamMs, m.SlowestDeliveryMs = ms(dispatch), ms(c.FirstByte.Sub(c.Start)), ms(delivery)
		}
	}
}

// runUnique measures requests that each read a key no other request reads,
// at every concurrency in -unique-clients. The targets of one concurrency
// read the same keys in turn: the agent keeps no cache and every object was
// just written, so each target finds the same state (page cache included).
func (e *environment) runUnique(ctx context.Context, rep *report) error {
	for _, clients := range e.opts.uniqueClients {
		prefix := fmt.Sprintf("%s/unique-c%d/", e.runID, clients)
		keys := make([]string, e.opts.uniqueRequests)
		for i := range keys {
			keys[i] = fmt.Sprintf("%s%06d", prefix, i)
		}
		warm := e.runID + "/warm-unique"
		e.log.Info("seeding unique keys", "count", len(keys), "clients", clients)
		if err := e.seedSmall(ctx, append(keys, warm)); err != nil {
			return err
		}

		targets := []target{
			directNoCounter, directCounter,
			agentTarget(agentOff), agentTarget(agentWindow0), agentTarget(agentDefault),
		}
		for _, t := range targets {
			if !e.opts.selected(t) {
				continue
			}
			m := &measurement{Scenario: "unique", Clients: clients}
			s, err := e.begin(ctx, m, t)
			if err != nil {
				return err
			}
			res := runClosedLoop(ctx, s.ep, loadSpec{
				clients:     clients,
				duration:    e.opts.duration,
				maxRequests: len(keys),
				bucket:      e.bucket,
				key:         func(i int) string { return keys[i] },
				size:        smallSize,
				warmKey:     warm,
				started:     s.started,
			})
			s.end(func(k string) bool { return strings.HasPrefix(k, prefix) })
			m.fillLoad(res, smallSize)
			m.setAgentCPUPerRequest(s.agentSeconds)
			rep.add(m)
			e.log.Info("measured", "scenario", m.Scenario, "clients", clients, "target", m.Target,
				"rps", m.RequestsPerSecond, "p50_ms", m.P50Ms, "p99_ms", m.P99Ms, "upstream_calls", m.UpstreamCalls, "errors", m.Errors)
		}
	}
	return nil
}

// runFanout measures -fanout-clients readers that request one large object
// at the same moment.
func (e *environment) runFanout(ctx context.Context, rep *report) error {
	size := e.opts.fanoutSize
	key := fmt.Sprintf("%s/fanout-%dMiB", e.runID, size>>20)
	warm := e.runID + "/warm-fanout"
	e.log.Info("seeding the fan-out object", "key", key, "bytes", size)
	if err := e.put(ctx, key, size); err != nil {
		return err
	}
	if err := e.seedSmall(ctx, []string{warm}); err != nil {
		return err
	}

	targets := []target{
		directCounter,
		agentTarget(agentOff), agentTarget(agentDefault), agentTarget(agentMax1000),
	}
	for _, t := range targets {
		if !e.opts.selected(t) {
			continue
		}
		m := &measurement{Scenario: "fanout", Clients: e.opts.fanoutClients}
		s, err := e.begin(ctx, m, t)
		if err != nil {
			return err
		}
		readers := runFanout(ctx, s.ep, e.bucket, key, warm, size, e.opts.fanoutClients, s.started)
		calls := s.end(func(k string) bool { return k == key })
		m.fillFanout(readers, calls, size)
		rep.add(m)
		e.log.Info("measured", "scenario", m.Scenario, "target", m.Target, "seconds", m.Seconds,
			"upstream_calls", m.UpstreamCalls, "first_byte_lag_ms", m.FirstByteLagMs, "peak_rss_mib", m.PeakRSSMiB, "errors", m.Errors)
	}
	return nil
}

// setAgentCPUPerRequest records the agent's CPU time per completed
// request. The kernel counts CPU time in 10 ms ticks, so short
// measurements give coarse figures.
func (m *measurement) setAgentCPUPerRequest(agentSeconds float64) {
	if m.Requests > 0 && agentSeconds > 0 {
		m.AgentCPUMicros = round1(agentSeconds * 1e6 / float64(m.Requests))
	}
}

// fillFanout records the readers' timelines and the upstream's first byte.
func (m *measurement) fillFanout(readers []readerResult, calls []*call, size int64) {
	var first, last time.Time
	var ttfb []time.Duration
	var latest time.Time // the last first byte to reach a reader
	for _, r := range readers {
		if r.err != nil {
			m.Errors++
			if m.FirstError == "" {
				m.FirstError = r.err.Error()
			}
			continue
		}
		m.Requests++
		if first.IsZero() || r.start.Before(first) {
			first = r.start
		}
		if r.end.After(last) {
			last = r.end
		}
		if r.firstByte.After(latest) {
			latest = r.firstByte
		}
		ttfb = append(ttfb, r.firstByte.Sub(r.start))
	}
	if m.Requests == 0 {
		return
	}
	slices.Sort(ttfb)
	elapsed := last.Sub(first)
	m.Seconds = round3(elapsed.Seconds())
	m.MBPerSecond = round1(float64(m.Requests) * float64(size) / 1e6 / elapsed.Seconds())
	m.TTFBP50Ms = ms(percentile(ttfb, 50))
	m.TTFBMaxMs = ms(percentile(ttfb, 100))

	var upstreamFirst time.Time
	for _, c := range calls {
		if !c.FirstByte.IsZero() && (upstreamFirst.IsZero() || c.FirstByte.Before(upstreamFirst)) {
			upstreamFirst = c.FirstByte
		}
	}
	if !upstreamFirst.IsZero() {
		m.FirstByteLagMs = ms(latest.Sub(upstreamFirst))
	}
}
