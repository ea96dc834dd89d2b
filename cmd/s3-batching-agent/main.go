// Command s3-batching-agent is a node-local S3 agent: it serves a helper
// HTTP API and coalesces identical S3 reads that arrive together into one
// upstream call whose response streams to every caller.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/s3-batching-agent/s3-batching-agent/cmd/s3-batching-agent/config"
)

func main() {
	cfg, err := config.Parse(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2)
	}

	log := newLogger(cfg, os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if err := run(ctx, cfg, log); err != nil {
		var usage *config.UsageError
		if errors.As(err, &usage) {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		log.Error("agent stopped with an error", "error", err)
		os.Exit(1)
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if cfg.Debug {
		opts.Level = slog.LevelDebug
	}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// run builds the agent, serves until ctx is done, then shuts down
// gracefully.
func run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	a, err := newAgent(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()

	log.Info("starting s3-batching-agent", "config", cfg.Summary(), "credentials", a.credentialSummary(ctx))
	go a.probeUpstream(ctx)

	servers := a.servers()
	errc := make(chan error, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.srv.Addr)
		if err != nil {
			return fmt.Errorf("listening for the %s on %s: %w", s.name, s.srv.Addr, err)
		}
		if s.wrap != nil {
			ln = s.wrap(ln)
		}
		log.Info("listening", "server", s.name, "address", ln.Addr().String())
		go func() {
			if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serving the %s: %w", s.name, err)
			}
		}()
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}

	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String(), "in_flight", a.inFlight.count())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.srv.Shutdown(shutdownCtx); err != nil {
				log.Warn("shutdown deadline passed: cutting off in-flight requests",
					"server", s.name, "cut_off", a.inFlight.countFor(s.name))
				s.srv.Close()
			}
		})
	}
	wg.Wait()
	log.Info("stopped")
	return nil
}

// namedServer is one listener of the agent.
type namedServer struct {
	name string
	srv  *http.Server
	wrap func(net.Listener) net.Listener // nil means the plain listener
}

func newServer(cfg *config.Config, port int, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              net.JoinHostPort(cfg.Bind, strconv.Itoa(port)),
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		// No read or write timeout: objects and uploads of any size stream
		// through, bounded by the client's and the upstream's pace.
	}
}

// inFlight counts requests being served, per server.
type inFlight struct {
	mu     sync.Mutex // guards counts
	counts map[string]int
}

func (f *inFlight) wrap(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.add(name, 1)
		defer f.add(name, -1)
		next.ServeHTTP(w, r)
	})
}

func (f *inFlight) add(name string, d int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	f.counts[name] += d
}

func (f *inFlight) countFor(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[name]
}

func (f *inFlight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.counts {
		n += c
	}
	return n
}
