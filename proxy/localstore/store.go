package localstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"
)

// Server timeouts. There is no read or write timeout for the whole request,
// because object bodies of any size stream through. The agent bounds each
// upstream call with its own timeout.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Store is an S3-compatible server for a directory, listening on a
// loopback port. Create it with Start and stop it with Close. Its methods
// are safe for concurrent use.
type Store struct {
	server   *http.Server
	endpoint string
	served   chan error // receives the result of server.Serve, then closes
}

// Start serves dir as an S3 store on 127.0.0.1 at a free port. Each
// top-level folder of dir whose name is a valid bucket name is a bucket,
// and each file below it is an object whose key is the file's path inside
// the bucket folder, with "/" between folders. dir must exist.
//
// The store accepts any credentials and does not check request signatures.
// It logs to logger, which may be nil to discard the logs.
func Start(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	root, err := servedDir(dir)
	if err != nil {
		return nil, err
	}
	inner, err := s3afero.MultiBucket(
		newRootFs(root, afero.NewMemMapFs()),
		// ETags and metadata live in memory, so the served directory
		// holds nothing but the objects' files.
		s3afero.MultiWithMetaFs(afero.NewMemMapFs()),
	)
	if err != nil {
		return nil, fmt.Errorf("starting the local store for %q: %w", root, err)
	}
	store := &backend{inner: inner, root: root, logger: logger}
	fake := gofakes3.New(store,
		gofakes3.WithLogger(slogLogger{logger: logger}),
		gofakes3.WithIntegrityCheck(true),
	)

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the local store for %q: %w", root, err)
	}
	s := &Store{
		server: &http.Server{
			Handler:           &handler{backend: store, next: fake.Server()},
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		endpoint: "http://" + listener.Addr().String(),
		served:   make(chan error, 1),
	}
	go func() {
		s.served <- s.server.Serve(listener)
		close(s.served)
	}()

	logger.Info("local store started", "dir", root, "endpoint", s.endpoint)
	return s, nil
}

// servedDir returns dir as an absolute path after checking that it is a
// folder.
func servedDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("the local store needs a directory to serve")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving local store directory %q: %w", dir, err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return "", fmt.Errorf("opening local store directory: %w", err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("local store directory %q is not a directory", root)
	}
	return root, nil
}

// Endpoint returns the store's base URL, "http://127.0.0.1:PORT", for
// path-style S3 requests.
func (s *Store) Endpoint() string {
	return s.endpoint
}

// Close stops the store. It waits for requests in progress to finish until
// ctx is done, then closes their connections. Further calls return nil.
func (s *Store) Close(ctx context.Context) error {
	shutdownErr := s.server.Shutdown(ctx)
	if shutdownErr != nil {
		s.server.Close()
	}
	serveErr := <-s.served
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	if err := errors.Join(shutdownErr, serveErr); err != nil {
		return fmt.Errorf("closing the local store: %w", err)
	}
	return nil
}
