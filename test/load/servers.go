package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// startTimeout bounds the wait for a started server's health check.
const startTimeout = 30 * time.Second

// stopGrace is how long a server may take to exit after SIGTERM before it
// is killed: the agent's default --shutdown-timeout of 15s plus a margin.
const stopGrace = 20 * time.Second

// environment holds the servers the scenarios share: versitygw, the counting
// proxy in front of it and an S3 client for seeding.
type environment struct {
	opts *options
	log  *slog.Logger

	workDir    string
	ownWorkDir bool
	upstream   string // versitygw's base URL
	gateway    *server
	counter    *counter
	s3         *s3.Client
	creds      aws.Credentials
	runID      string // prefix of every key this run writes
	bucket     string
	agentCount int
}

func newEnvironment(ctx context.Context, o *options, log *slog.Logger) (*environment, error) {
	e := &environment{
		opts:   o,
		log:    log,
		creds:  aws.Credentials{AccessKeyID: o.accessKey, SecretAccessKey: o.secretKey, Source: "load flags"},
		runID:  strconv.FormatInt(time.Now().Unix(), 36),
		bucket: "s3ba-load",
	}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()

	e.workDir = o.workDir
	if e.workDir == "" {
		dir, err := os.MkdirTemp("", "s3ba-load-")
		if err != nil {
			return nil, fmt.Errorf("creating the work directory: %w", err)
		}
		e.workDir, e.ownWorkDir = dir, true
	} else if err := os.MkdirAll(e.workDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the work directory: %w", err)
	}

	e.upstream = o.upstream
	if e.upstream == "" {
		if err := e.startVersitygw(); err != nil {
			return nil, err
		}
	}

	c, err := startCounter(e.upstream)
	if err != nil {
		return nil, err
	}
	e.counter = c

	e.s3 = s3.New(s3.Options{
		Region:       o.region,
		BaseEndpoint: aws.String(e.upstream),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(o.accessKey, o.secretKey, ""),
	})
	if err := e.ensureBucket(ctx); err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// close stops what the environment started and removes its own work
// directory.
func (e *environment) close() {
	if e.counter != nil {
		e.counter.close()
	}
	if e.gateway != nil {
		e.gateway.stop()
	}
	if e.ownWorkDir {
		os.RemoveAll(e.workDir)
	}
}

func (e *environment) startVersitygw() error {
	bin, err := exec.LookPath(e.opts.versitygw)
	if err != nil {
		return fmt.Errorf("versitygw not found (%v); install it with go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 or pass -upstream", err)
	}

	dataDir := filepath.Join(e.workDir, "versitygw-data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("creating versitygw's data directory: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}

	args := []string{
		"--port", addr,
		"--access", e.opts.accessKey,
		"--secret", e.opts.secretKey,
		"--region", e.opts.region,
		"--keep-alive",
		"--health", "/_load_health",
		"posix", dataDir,
	}
	s, err := startServer("versitygw", bin, args, os.Environ(), filepath.Join(e.workDir, "versitygw.log"))
	if err != nil {
		return err
	}
	e.gateway = s
	e.upstream = "http://" + addr
	if err := s.waitHealthy(e.upstream + "/_load_health"); err != nil {
		return err
	}
	e.log.Info("versitygw started", "url", e.upstream, "pid", s.pid(), "data", dataDir)
	return nil
}

func (e *environment) ensureBucket(ctx context.Context) error {
	_, err := e.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(e.bucket)})
	if err == nil {
		return nil
	}
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(e.bucket)}); err != nil {
		return fmt.Errorf("creating bucket %s on %s: %w", e.bucket, e.upstream, err)
	}
	return nil
}

// agentConfig is one way of running the agent.
type agentConfig struct {
	name string
	args []string
	// window is the batch window the flags set, for the targets.
	window time.Duration
}

// Agent configurations the scenarios use. Every one sends its upstream
// calls through the counting proxy.
var (
	agentOff     = agentConfig{"agent batching=false", []string{"--batching=false"}, 0}
	agentDefault = agentConfig{"agent defaults (100ms, max 10)", nil, 100 * time.Millisecond}
	agentWindow0 = agentConfig{"agent --batch-window=0", []string{"--batch-window=0"}, 0}
	agentMax1000 = agentConfig{"agent --max-batch-size=1000", []string{"--max-batch-size=1000"}, 100 * time.Millisecond}
)

// agent is a running agent process.
type agent struct {
	*server
	helperURL string
	s3URL     string // empty when the S3 listener is off
}

// startAgent starts the agent with cfg's flags. upstream is the URL it sends
// its calls to; withListener turns the S3 listener on.
func (e *environment) startAgent(cfg agentConfig, upstream string, withListener bool) (*agent, error) {
	helperAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, helperPort, _ := net.SplitHostPort(helperAddr)
	args := []string{
		"--bind=127.0.0.1",
		"--port=" + helperPort,
		"--s3-port=0",
		"--endpoint=" + upstream,
		"--aws-region=" + e.opts.region,
		"--log-format=text",
	}
	a := &agent{helperURL: "http://" + helperAddr}
	if withListener {
		s3Addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		_, s3Port, _ := net.SplitHostPort(s3Addr)
		args = append(args, "--s3-port="+s3Port)
		a.s3URL = "http://" + s3Addr
	}
	if e.opts.profileDir != "" {
		args = append(args, "--debug")
	}
	args = append(args, e.opts.agentArgs...)
	args = append(args, cfg.args...)

	// The agent's default credential chain finds the static keys first and
	// never queries the instance metadata service.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+e.opts.accessKey,
		"AWS_SECRET_ACCESS_KEY="+e.opts.secretKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
	e.agentCount++
	logPath := filepath.Join(e.workDir, fmt.Sprintf("agent-%02d.log", e.agentCount))
	s, err := startServer("agent", e.opts.agentBinary, args, env, logPath)
	if err != nil {
		return nil, err
	}
	a.server = s
	if err := s.waitHealthy(a.helperURL + "/health"); err != nil {
		s.stop()
		return nil, err
	}
	e.log.Info("agent started", "config", cfg.name, "pid", s.pid(), "args", args, "log", logPath)
	return a, nil
}

// server is a child process with its output in a log file.
type server struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

func startServer(name, bin string, args, env []string, logPath string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the %s log: %w", name, err)
	}
	defer logFile.Close()

	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttributes()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// waitHealthy polls url until it returns 200, the process exits or
// startTimeout passes.
func (s *server) waitHealthy(url string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready (log: %s)", s.name, s.logPath)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v at %s: %w (log: %s)", s.name, startTimeout, url, err, s.logPath)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and kills the process if it is still running after
// stopGrace.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopGrace):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// peakRSS returns the process's VmHWM (peak resident set size) in bytes.
func (s *server) peakRSS() (int64, error) {
	return procStatusBytes(s.pid(), "VmHWM")
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// isLoopbackURL reports whether raw is an http URL whose host is a loopback
// address or localhost.
func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
