package test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsAfterKnownWorkload runs 30 identical reads, which share one
// upstream call, and 5 reads of distinct keys, then checks the counts in
// /metrics, parsed from the exposition format.
func TestMetricsAfterKnownWorkload(t *testing.T) {
	st := newStack(t, stackOptions{
		buckets: []string{"bkt"},
		// 30 identical reads fill one group; each distinct read waits
		// out the 2s window alone.
		agentArgs: []string{"--max-batch-size=30", "--batch-window=2s"},
	})
	hot := randomBytes(t, 64<<10)
	st.s3.Put(t, "bkt", "hot.bin", hot, "application/octet-stream", nil)
	distinct := map[string][]byte{}
	for i := range 5 {
		key := fmt.Sprintf("cold-%d.bin", i)
		distinct[key] = randomBytes(t, 1000+i)
		st.s3.Put(t, "bkt", key, distinct[key], "application/octet-stream", nil)
	}

	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var hotResults []fetchResult
	wg.Go(func() { hotResults = fetchAll(ctx, st.client, st.objectURL("bkt", "hot.bin"), 30) })
	coldResults := make(map[string][]fetchResult)
	var mu sync.Mutex
	for key := range distinct {
		wg.Go(func() {
			r := fetchAll(ctx, st.client, st.objectURL("bkt", key), 1)
			mu.Lock()
			coldResults[key] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	checkBodies(t, "hot getObject", hotResults, hot)
	wantBytes := 30 * len(hot)
	for key, data := range distinct {
		checkBodies(t, "getObject "+key, coldResults[key], data)
		wantBytes += len(data)
	}

	// The agent records a request after its handler returns, which can be
	// just after the client has read the whole body.
	families := scrapeMetrics(t, st)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		total := findMetric(t, families, "s3ba_requests_total", nil).GetCounter().GetValue()
		if total >= 35 {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not an ordering wait
		families = scrapeMetrics(t, st)
	}
	checks := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"client requests", "s3ba_requests_total", map[string]string{"front_door": "helper", "operation": "GetObject", "code": "200"}, 35},
		{"requests served without their own call", "s3ba_coalesced_requests_total", map[string]string{"front_door": "helper", "operation": "GetObject"}, 29},
		{"upstream GetObject calls", "s3ba_upstream_requests_total", map[string]string{"operation": "GetObject", "code": "200"}, 6},
		{"bytes sent to clients", "s3ba_response_bytes_total", map[string]string{"front_door": "helper"}, float64(wantBytes)},
		{"open groups", "s3ba_open_groups", nil, 0},
	}
	for _, c := range checks {
		if got := metricValue(t, families, c.metric, c.labels); got != c.want {
			t.Errorf("%s: %s%v = %v, want %v", c.name, c.metric, c.labels, got, c.want)
		}
	}

	sizes := findMetric(t, families, "s3ba_group_size", nil).GetHistogram()
	if sizes.GetSampleCount() != 6 || sizes.GetSampleSum() != 35 {
		t.Errorf("s3ba_group_size count, sum = %d, %v, want 6 groups of 35 requests in all", sizes.GetSampleCount(), sizes.GetSampleSum())
	}
	if got := st.counter.Count(http.MethodGet, "bkt", "hot.bin"); got != 1 {
		t.Errorf("upstream GETs of hot.bin at the counter = %d, want 1", got)
	}
}

func scrapeMetrics(t *testing.T, st *stack) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := st.client.Get(st.agent.HelperURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics status = %d, want 200", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// findMetric returns the metric of the family name whose labels include
// every label in want.
func findMetric(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	family, ok := families[name]
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
	for _, m := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
	}
	t.Fatalf("/metrics has no %s with labels %v", name, want)
	return nil
}

func metricValue(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := findMetric(t, families, name, labels)
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}
