package proxy

import (
	"sync/atomic"
	"time"
)

// atomicTime is a time.Time that can be stored and loaded concurrently.
// The zero value holds the zero time.
type atomicTime struct {
	ns atomic.Int64
}

func (t *atomicTime) Store(v time.Time) { t.ns.Store(v.UnixNano()) }

func (t *atomicTime) Load() time.Time {
	ns := t.ns.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
