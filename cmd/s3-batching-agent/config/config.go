// Package config turns the agent's command-line flags into a validated
// Config. It is a package of its own so that tests of the deployment
// manifests can parse their container arguments with the agent's parser.
package config

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is the agent's effective configuration. It holds no secrets:
// credentials come from the AWS SDK's default chain at run time.
type Config struct {
	Bind   string // IP address to listen on; empty means every interface
	Port   int    // helper API port
	S3Port int    // S3 listener port; 0 turns the listener off

	Batching     bool
	BatchWindow  time.Duration
	MaxBatchSize int
	JoinInFlight bool

	// FanoutBuffer is how many bytes of one response may be buffered ahead
	// of its slowest reader; SlowReaderTimeout is how long that reader may
	// keep the buffer full before it is cut off.
	FanoutBuffer      int
	SlowReaderTimeout time.Duration

	Debug         bool
	AWSRegion     string
	DefaultBucket string
	Endpoint      *url.URL // nil means AWS S3 in AWSRegion
	LocalStore    string   // directory served by the embedded store; empty means off

	UpstreamTimeout time.Duration
	ShutdownTimeout time.Duration
	LogFormat       string

	ClientAuth        string // "none" or "verify"
	ClientCredentials string // file of client keys, required with "verify"
}

// UsageError is a flag value the agent rejects. The process exits with
// status 2 on it, as the flag package does.
type UsageError struct {
	Flag    string
	Message string
}

func (e *UsageError) Error() string {
	if e.Flag == "" {
		return e.Message
	}
	return "invalid value for --" + e.Flag + ": " + e.Message
}

// Parse parses args (without the program name). Usage and errors go to
// output. -h returns flag.ErrHelp; any other error is a rejected command
// line, on which the agent exits with status 2.
func Parse(args []string, output io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("s3-batching-agent", flag.ContinueOnError)
	fs.SetOutput(output)

	var endpoint string
	fs.StringVar(&c.Bind, "bind", "", "IP `address` both listeners bind to; empty means every interface")
	fs.IntVar(&c.Port, "port", 8080, "TCP `port` of the helper API (/health, /s3/..., /metrics)")
	fs.IntVar(&c.S3Port, "s3-port", 9000, "TCP `port` of the path-style S3 listener for SDK clients; 0 turns it off")
	fs.BoolVar(&c.Batching, "batching", true, "coalesce identical reads that arrive together into one upstream call")
	fs.DurationVar(&c.BatchWindow, "batch-window", 100*time.Millisecond, "how long a group of identical reads stays open for new members; 0 dispatches at once and gathers later reads behind the call in flight")
	fs.IntVar(&c.MaxBatchSize, "max-batch-size", 10, "number of reads at which a group is dispatched before its window ends")
	fs.BoolVar(&c.JoinInFlight, "join-inflight", false, "let reads join an upstream call already sent: fewer calls, but a response may predate the read by up to one round trip")
	fs.IntVar(&c.FanoutBuffer, "fanout-buffer", 4<<20, "`bytes` of one response buffered ahead of its slowest reader")
	fs.DurationVar(&c.SlowReaderTimeout, "slow-reader-timeout", 30*time.Second, "how long the slowest reader of a shared response may keep its buffer full before it is cut off")
	fs.BoolVar(&c.Debug, "debug", false, "serve /debug/config and /debug/pprof/ and log per-request detail")
	fs.StringVar(&c.AWSRegion, "aws-region", "us-east-1", "signing `region` of the upstream (and AWS S3's region when --endpoint is not set)")
	fs.StringVar(&c.DefaultBucket, "default-bucket", "", "`bucket` the helper API uses when a request names none")
	fs.StringVar(&endpoint, "endpoint", "", "`URL` of an S3-compatible upstream, addressed path-style (default: AWS S3)")
	fs.StringVar(&c.LocalStore, "local-store", "", "serve `directory` from an embedded S3 store instead of a remote upstream; its top-level folders are buckets")
	fs.DurationVar(&c.UpstreamTimeout, "upstream-timeout", 30*time.Second, "how long to wait for the upstream's response headers")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight responses may run after SIGTERM")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log `format`: json or text")
	fs.StringVar(&c.ClientAuth, "client-auth", "none", "S3 listener `mode`: none (trust clients, re-sign) or verify (check SigV4 against --client-credentials)")
	fs.StringVar(&c.ClientCredentials, "client-credentials", "", "`file` of client access keys for --client-auth verify")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		err := &UsageError{Message: fmt.Sprintf("unexpected argument %q; every setting is a --flag (see -h)", fs.Arg(0))}
		fmt.Fprintln(output, err)
		return nil, err
	}

	if err := c.validate(endpoint); err != nil {
		fmt.Fprintln(output, err)
		return nil, err
	}
	return c, nil
}

func (c *Config) validate(endpoint string) error {
	if c.Bind != "" && net.ParseIP(c.Bind) == nil {
		return &UsageError{"bind", fmt.Sprintf("%q is not an IP address; use an address such as 127.0.0.1 or 0.0.0.0", c.Bind)}
	}
	if c.Port < 1 || c.Port > 65535 {
		return &UsageError{"port", fmt.Sprintf("%d is not a TCP port; use 1 to 65535", c.Port)}
	}
	if c.S3Port < 0 || c.S3Port > 65535 {
		return &UsageError{"s3-port", fmt.Sprintf("%d is not a TCP port; use 1 to 65535, or 0 to turn the listener off", c.S3Port)}
	}
	if c.S3Port == c.Port {
		return &UsageError{"s3-port", fmt.Sprintf("%d is also the --port of the helper API; use another port", c.S3Port)}
	}
	if c.BatchWindow < 0 {
		return &UsageError{"batch-window", fmt.Sprintf("%v is negative; use 0 or a positive duration such as 100ms", c.BatchWindow)}
	}
	if c.MaxBatchSize < 1 {
		return &UsageError{"max-batch-size", fmt.Sprintf("%d is below 1; use a whole number of at least 1", c.MaxBatchSize)}
	}
	if c.FanoutBuffer < 64<<10 {
		return &UsageError{"fanout-buffer", fmt.Sprintf("%d bytes is below the minimum of 65536", c.FanoutBuffer)}
	}
	if c.SlowReaderTimeout <= 0 {
		return &UsageError{"slow-reader-timeout", fmt.Sprintf("%v is not positive; use a duration such as 30s", c.SlowReaderTimeout)}
	}
	if c.UpstreamTimeout <= 0 {
		return &UsageError{"upstream-timeout", fmt.Sprintf("%v is not positive; use a duration such as 30s", c.UpstreamTimeout)}
	}
	if c.ShutdownTimeout < 0 {
		return &UsageError{"shutdown-timeout", fmt.Sprintf("%v is negative; use 0 or a positive duration", c.ShutdownTimeout)}
	}
	if c.AWSRegion == "" || strings.ContainsAny(c.AWSRegion, " /") {
		return &UsageError{"aws-region", fmt.Sprintf("%q is not a region name such as us-east-1", c.AWSRegion)}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return &UsageError{"log-format", fmt.Sprintf("%q is not accepted; use json or text", c.LogFormat)}
	}

	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			return &UsageError{"endpoint", fmt.Sprintf("%q is not an http:// or https:// URL with a host and no query or user info, such as http://127.0.0.1:7070", endpoint)}
		}
		c.Endpoint = u
	}
	if c.Endpoint != nil && c.LocalStore != "" {
		return &UsageError{"local-store", "cannot be combined with --endpoint; choose one upstream"}
	}
	if c.LocalStore != "" {
		if info, err := os.Stat(c.LocalStore); err != nil || !info.IsDir() {
			return &UsageError{"local-store", fmt.Sprintf("%q is not an existing directory; give a directory whose top-level folders are the buckets", c.LocalStore)}
		}
	}

	switch c.ClientAuth {
	case "none":
		if c.ClientCredentials != "" {
			return &UsageError{"client-credentials", "is only used with --client-auth verify"}
		}
	case "verify":
		if c.ClientCredentials == "" {
			return &UsageError{"client-credentials", "is required with --client-auth verify; give the path of the client keys file"}
		}
		if info, err := os.Stat(c.ClientCredentials); err != nil || !info.Mode().IsRegular() {
			return &UsageError{"client-credentials", fmt.Sprintf("%q is not an existing file; give the path of the client keys file", c.ClientCredentials)}
		}
	default:
		return &UsageError{"client-auth", fmt.Sprintf("%q is not accepted; use none or verify", c.ClientAuth)}
	}
	return nil
}

// Summary returns the configuration as flag names and values for the
// start-up log and /debug/config. It contains no secrets.
func (c *Config) Summary() map[string]any {
	endpoint := ""
	if c.Endpoint != nil {
		endpoint = c.Endpoint.String()
	}
	return map[string]any{
		"bind":                c.Bind,
		"port":                c.Port,
		"s3-port":             c.S3Port,
		"batching":            c.Batching,
		"batch-window":        c.BatchWindow.String(),
		"max-batch-size":      c.MaxBatchSize,
		"join-inflight":       c.JoinInFlight,
		"fanout-buffer":       c.FanoutBuffer,
		"slow-reader-timeout": c.SlowReaderTimeout.String(),
		"debug":               c.Debug,
		"aws-region":          c.AWSRegion,
		"default-bucket":      c.DefaultBucket,
		"endpoint":            endpoint,
		"local-store":         c.LocalStore,
		"upstream-timeout":    c.UpstreamTimeout.String(),
		"shutdown-timeout":    c.ShutdownTimeout.String(),
		"log-format":          c.LogFormat,
		"client-auth":         c.ClientAuth,
		"client-credentials":  c.ClientCredentials,
	}
}
