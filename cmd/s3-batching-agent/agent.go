package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/s3-batching-agent/s3-batching-agent/batching"
	"github.com/s3-batching-agent/s3-batching-agent/cmd/s3-batching-agent/config"
	"github.com/s3-batching-agent/s3-batching-agent/compat"
	"github.com/s3-batching-agent/s3-batching-agent/proxy"
	"github.com/s3-batching-agent/s3-batching-agent/proxy/localstore"
)

// localStoreKey is the access key the agent signs with when it talks to
// its own embedded store, which does not check signatures.
const localStoreKey = "local-store"

// agent holds the wired components of a running agent.
type agent struct {
	cfg         *config.Config
	log         *slog.Logger
	credentials aws.CredentialsProvider
	upstream    *proxy.Upstream
	reads       *proxy.ReadPath
	metrics     *proxy.Metrics
	store       *localstore.Store
	clients     *compat.ClientCredentials
	inFlight    inFlight
}

func newAgent(ctx context.Context, cfg *config.Config, log *slog.Logger) (*agent, error) {
	a := &agent{cfg: cfg, log: log}

	if cfg.ClientAuth == "verify" {
		clients, err := compat.LoadClientCredentials(cfg.ClientCredentials)
		if err != nil {
			return nil, &config.UsageError{Flag: "client-credentials", Message: err.Error()}
		}
		a.clients = clients
		log.Info("S3 listener verifies client signatures", "clients", clients.Len())
	}

	endpoint := cfg.Endpoint
	if cfg.LocalStore != "" {
		store, err := localstore.Start(cfg.LocalStore, log.With("component", "local-store"))
		if err != nil {
			return nil, fmt.Errorf("starting the local store on %s: %w", cfg.LocalStore, err)
		}
		a.store = store
		endpoint, err = url.Parse(store.Endpoint())
		if err != nil {
			return nil, fmt.Errorf("parsing the local store's endpoint: %w", err)
		}
		// Static credentials: the default chain would look for real ones,
		// and might ask the instance metadata service.
		a.credentials = credentials.NewStaticCredentialsProvider(localStoreKey, localStoreKey, "")
	} else {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.AWSRegion))
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		a.credentials = awsCfg.Credentials
	}

	a.metrics = proxy.NewMetrics(func() int { return a.reads.OpenGroups() })
	a.upstream = proxy.NewUpstream(proxy.UpstreamConfig{
		Endpoint:      endpoint,
		Region:        cfg.AWSRegion,
		Credentials:   a.credentials,
		HeaderTimeout: cfg.UpstreamTimeout,
		Logger:        log.With("component", "upstream"),
		Observer:      a.metrics,
	})
	a.reads = proxy.NewReadPath(a.upstream, batching.Config{
		Disabled:     !cfg.Batching,
		Window:       cfg.BatchWindow,
		MaxSize:      cfg.MaxBatchSize,
		JoinInFlight: cfg.JoinInFlight,
		BufferSize:   cfg.FanoutBuffer,
		StallTimeout: cfg.SlowReaderTimeout,
	}, log.With("component", "reads"))
	return a, nil
}

func (a *agent) servers() []namedServer {
	helperCfg := proxy.HelperConfig{
		DefaultBucket: a.cfg.DefaultBucket,
		Ready:         a.ready,
		Extra:         map[string]http.Handler{"/metrics": a.metrics.Handler()},
		Observer:      a.metrics,
		S3RoutesOff:   a.clients != nil,
		Logger:        a.log.With("component", "helper"),
	}
	if a.cfg.Debug {
		helperCfg.DebugConfig = debugConfig{a}
		helperCfg.Extra["/debug/pprof/"] = http.HandlerFunc(pprof.Index)
		helperCfg.Extra["/debug/pprof/cmdline"] = http.HandlerFunc(pprof.Cmdline)
		helperCfg.Extra["/debug/pprof/profile"] = http.HandlerFunc(pprof.Profile)
		helperCfg.Extra["/debug/pprof/symbol"] = http.HandlerFunc(pprof.Symbol)
		helperCfg.Extra["/debug/pprof/trace"] = http.HandlerFunc(pprof.Trace)
	}
	helper := proxy.NewHelper(a.reads, helperCfg)

	servers := []namedServer{
		{name: "helper API", srv: newServer(a.cfg, a.cfg.Port, a.inFlight.wrap("helper API", helper))},
	}
	if a.cfg.S3Port > 0 {
		listener := compat.New(compat.Config{
			Reads:    a.reads,
			Upstream: a.upstream,
			Clients:  a.clients,
			Observer: a.metrics,
			Logger:   a.log.With("component", "s3-listener"),
		})
		servers = append(servers, namedServer{
			name: "S3 listener",
			srv:  newServer(a.cfg, a.cfg.S3Port, a.inFlight.wrap("S3 listener", listener)),
			wrap: compat.FramingListener,
		})
	}
	return servers
}

// Readiness: the agent is ready while the upstream has sent a response
// within readyWindow. When traffic alone does not show that, a probe
// request (GET / on the upstream, ListBuckets) is sent every probeInterval;
// any HTTP response, an error status included, counts.
const (
	readyWindow   = 30 * time.Second
	probeInterval = 10 * time.Second
	probeTimeout  = 5 * time.Second
)

func (a *agent) ready() bool {
	last := a.upstream.LastResponse()
	return !last.IsZero() && time.Since(last) < readyWindow
}

// probeUpstream keeps readiness current until ctx is done.
func (a *agent) probeUpstream(ctx context.Context) {
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()
	for {
		if time.Since(a.upstream.LastResponse()) >= probeInterval {
			probeCtx, cancel := context.WithTimeout(ctx, probeTimeout)
			resp, err := a.upstream.Do(probeCtx, &proxy.Request{Op: "ReadinessProbe", Method: http.MethodGet})
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					a.log.Warn("upstream readiness probe failed", "error", err)
				}
			} else {
				resp.Body.Close()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (a *agent) close() {
	if a.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.store.Close(ctx)
	}
}

// credentialSummary describes the upstream credentials with the access key
// masked and the secret left out. It retrieves them, so a missing
// credential shows at start-up rather than on the first request.
func (a *agent) credentialSummary(ctx context.Context) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	creds, err := a.credentials.Retrieve(ctx)
	if err != nil {
		a.log.Warn("no upstream credentials yet: reads will fail until the default chain finds some", "error", err)
		return map[string]string{"status": "not loaded"}
	}
	out := map[string]string{
		"source":            creds.Source,
		"access_key_id":     maskKey(creds.AccessKeyID),
		"secret_access_key": "(set, not shown)",
	}
	if creds.SessionToken != "" {
		out["session_token"] = "(set, not shown)"
	}
	if creds.CanExpire {
		out["expires"] = creds.Expires.UTC().Format(time.RFC3339)
	}
	return out
}

// maskKey keeps the first four characters of an access key ID, which name
// its kind (AKIA long-term, ASIA temporary), and hides the rest.
func maskKey(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return id[:4] + "****"
}

// debugConfig is served at /debug/config: the flags and the masked
// credential summary, computed per request so refreshed credentials show.
type debugConfig struct{ a *agent }

func (d debugConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"config":      d.a.cfg.Summary(),
		"credentials": d.a.credentialSummary(context.Background()),
		"upstream":    upstreamSummary(d.a),
	})
}

func upstreamSummary(a *agent) map[string]string {
	out := map[string]string{"region": a.cfg.AWSRegion}
	switch {
	case a.store != nil:
		out["kind"] = "local store"
		out["endpoint"] = a.store.Endpoint()
	case a.cfg.Endpoint != nil:
		out["kind"] = "S3-compatible endpoint"
		out["endpoint"] = a.cfg.Endpoint.String()
	default:
		out["kind"] = "AWS S3"
	}
	if t := a.upstream.LastResponse(); !t.IsZero() {
		out["last_response"] = t.UTC().Format(time.RFC3339Nano)
	}
	return out
}
