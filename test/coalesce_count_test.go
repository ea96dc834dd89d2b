package test

import (
	"context"
	"net/http"
	"testing"
)

// TestCoalesceConcurrentIdenticalReads sends 50 identical getObject calls
// at once and counts the GETs that reach the upstream.
func TestCoalesceConcurrentIdenticalReads(t *testing.T) {
	const callers = 50

	tests := []struct {
		name string
		args []string
		want int
	}{
		{
			// The 30s window never ends first: each group is dispatched
			// when its tenth member joins, so 50 callers make 5 groups.
			name: "max batch size 10",
			args: []string{"--max-batch-size=10", "--batch-window=30s"},
			want: 5,
		},
		{
			// 50 members never fill a group of 100, so the group is
			// dispatched when its 2s window ends. All 50 arrive well
			// within it on loopback.
			name: "max batch size 100",
			args: []string{"--max-batch-size=100", "--batch-window=2s"},
			want: 1,
		},
		{
			name: "batching off",
			args: []string{"--batching=false"},
			want: callers,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t, stackOptions{buckets: []string{"bkt"}, agentArgs: tt.args})
			data := randomBytes(t, 1<<20)
			st.s3.Put(t, "bkt", "model.bin", data, "application/octet-stream", nil)

			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			results := fetchAll(ctx, st.client, st.objectURL("bkt", "model.bin"), callers)

			checkBodies(t, "getObject", results, data)
			if n := st.counter.Count(http.MethodGet, "bkt", "model.bin"); n != tt.want {
				t.Errorf("upstream GETs for %d callers with %v = %d, want %d", callers, tt.args, n, tt.want)
			}
		})
	}
}
