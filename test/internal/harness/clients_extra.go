package harness

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Stack frames that WaitForGoroutines counts. A request waiting for its
// group's result sits in the batching Coalescer's Do, whether the group is
// open or its call is in flight. So does a request that is never coalesced,
// while it waits for the response headers of its own call.
const (
	FrameGroupWait = "batching.(*Coalescer[...]).Do("
)

// goroutineWaitTimeout bounds WaitForGoroutines.
const goroutineWaitTimeout = 20 * time.Second

// WaitForGoroutines polls the agent's goroutine profile until exactly n
// goroutines have frame in their stack, and fails the test when that has
// not happened within 20s. The agent must run with --debug, which serves
// /debug/pprof/.
//
// The agent shows no other sign that a request has reached a group, so
// ordering tests watch its goroutines rather than sleep.
func (a *Agent) WaitForGoroutines(t testing.TB, frame string, n int) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	target := a.HelperURL + "/debug/pprof/goroutine?debug=2"
	deadline := time.Now().Add(goroutineWaitTimeout)
	for {
		profile, err := fetchProfile(client, target)
		if err != nil {
			t.Fatalf("%v (the agent serves pprof only with --debug)", err)
		}
		got := countFrames(profile, frame)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines with %s in their stack = %d after %v, want %d", frame, got, goroutineWaitTimeout, n)
		}
		time.Sleep(pollInterval) // polling interval, not an ordering wait
	}
}

// fetchProfile returns the body of a GET of a debug=2 goroutine profile.
func fetchProfile(client *http.Client, target string) (string, error) {
	resp, err := client.Get(target)
	if err != nil {
		return "", fmt.Errorf("GET /debug/pprof/goroutine: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading /debug/pprof/goroutine: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /debug/pprof/goroutine status = %d, want 200", resp.StatusCode)
	}
	return string(body), nil
}

// countFrames counts the goroutines of a debug=2 profile, separated by
// blank lines, whose stack contains frame.
func countFrames(profile, frame string) int {
	n := 0
	for goroutine := range strings.SplitSeq(profile, "\n\n") {
		if strings.Contains(goroutine, frame) {
			n++
		}
	}
	return n
}
