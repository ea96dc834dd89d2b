// Command load is the agent's own load benchmark. It starts versitygw (or
// uses one that is already running on 127.0.0.1), puts a counting
// pass-through proxy between the agent and versitygw, starts the agent with
// one configuration after another, and drives concurrent clients against
// the agent's helper API. For each measurement it reports requests/s, p50,
// p99 and max latency, the upstream calls the counting proxy saw, and the
// agent's peak RSS. The same load sent straight to versitygw (path-style,
// SigV4-signed GETs) is the baseline.
//
// Scenarios (-scenarios, comma-separated):
//
//	hot       clients read one 1 KiB key back to back for -duration, at each
//	          concurrency in -hot-clients
//	unique    every request reads a key no other request reads, at each
//	          concurrency in -unique-clients, bounded by -unique-requests and -duration
//	fanout    -fanout-clients clients read one -fanout-size object at the same moment
//	listener  a -listener-size PUT and GET through the agent's S3 listener
//	          and straight to versitygw with the same aws-sdk-go-v2 client
//
// Everything runs on 127.0.0.1. test/bench/load.sh builds the binaries and
// runs the tool; see docs/benchmarks.md for recorded figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the tool's command-line settings.
type options struct {
	agentBinary string
	agentArgs   []string
	versitygw   string
	upstream    string // URL of a running versitygw; empty starts one
	accessKey   string
	secretKey   string
	region      string
	workDir     string

	scenarios      []string
	targets        []string // substrings of target names to measure; empty means all
	duration       time.Duration
	hotClients     []int
	uniqueClients  []int
	uniqueRequests int
	fanoutClients  int
	fanoutSize     int64
	listenerSize   int64
	listenerRounds int

	quietPercent float64
	quietWait    time.Duration
	profileDir   string
	jsonOut      string
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2)
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, opts, log, os.Stdout); err != nil {
		log.Error("load benchmark failed", "error", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, output io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(output)

	var targets, scenarios, hotClients, uniqueClients, agentArgs, fanoutSize, listenerSize string
	fs.StringVar(&o.agentBinary, "agent", "", "`path` of the s3-batching-agent binary (required)")
	fs.StringVar(&agentArgs, "agent-args", "", "extra agent flags, space-separated, added to every agent start")
	fs.StringVar(&o.versitygw, "versitygw", "versitygw", "versitygw `binary` started when -upstream is empty")
	fs.StringVar(&o.upstream, "upstream", "", "`URL` of a running versitygw on 127.0.0.1 (empty: start one); its CPU time then counts as foreign")
	fs.StringVar(&o.accessKey, "access-key", "s3ba-load-access-key", "versitygw root access key (also the agent's upstream credentials)")
	fs.StringVar(&o.secretKey, "secret-key", "s3ba-load-secret-key-for-loopback-only", "versitygw root secret key")
	fs.StringVar(&o.region, "region", "us-east-1", "signing region")
	fs.StringVar(&o.workDir, "workdir", "", "`directory` for versitygw's data and the logs (empty: a new temporary directory, removed at exit)")
	fs.StringVar(&scenarios, "scenarios", "hot,unique,fanout", "comma-separated scenarios: hot, unique, fanout, listener")
	fs.StringVar(&targets, "targets", "", "comma-separated parts of target names to measure, such as \"direct,max-batch-size\" (empty: every target)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each timed measurement")
	fs.StringVar(&hotClients, "hot-clients", "200", "comma-separated client counts for the hot scenario")
	fs.StringVar(&uniqueClients, "unique-clients", "1,64", "comma-separated client counts for the unique scenario")
	fs.IntVar(&o.uniqueRequests, "unique-requests", 3000, "requests (and distinct keys) per unique measurement at most")
	fs.IntVar(&o.fanoutClients, "fanout-clients", 32, "readers of the one object in the fanout scenario")
	fs.StringVar(&fanoutSize, "fanout-size", "256MiB", "object size in the fanout scenario (KiB, MiB, GiB suffixes)")
	fs.StringVar(&listenerSize, "listener-size", "1GiB", "object size in the listener scenario")
	fs.IntVar(&o.listenerRounds, "listener-rounds", 2, "PUT+GET rounds per path in the listener scenario")
	fs.Float64Var(&o.quietPercent, "quiet-percent", 15, "before each measurement wait until other processes use at most this `percent` of the machine")
	fs.DurationVar(&o.quietWait, "quiet-wait", 60*time.Second, "longest wait for a quiet machine before measuring anyway")
	fs.StringVar(&o.profileDir, "profile-dir", "", "`directory` for a CPU profile of the agent per measurement (starts the agent with --debug)")
	fs.StringVar(&o.jsonOut, "json", "", "`file` to write every measurement to as JSON")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fail := func(format string, a ...any) (*options, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintln(output, err)
		return nil, err
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q; every setting is a -flag (see -h)", fs.Arg(0))
	}
	if o.agentBinary == "" {
		return fail("-agent is required: build it with go build -o BIN ./cmd/s3-batching-agent")
	}
	o.agentArgs = strings.Fields(agentArgs)

	for _, s := range strings.Split(scenarios, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains([]string{"hot", "unique", "fanout", "listener"}, s) {
			return fail("invalid -scenarios entry %q; use hot, unique, fanout or listener", s)
		}
		o.scenarios = append(o.scenarios, s)
	}
	for _, t := range strings.Split(targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.targets = append(o.targets, t)
		}
	}
	var err error
	if o.hotClients, err = parseCounts(hotClients); err != nil {
		return fail("invalid -hot-clients: %v", err)
	}
	if o.uniqueClients, err = parseCounts(uniqueClients); err != nil {
		return fail("invalid -unique-clients: %v", err)
	}
	if o.fanoutSize, err = parseSize(fanoutSize); err != nil {
		return fail("invalid -fanout-size: %v", err)
	}
	if o.listenerSize, err = parseSize(listenerSize); err != nil {
		return fail("invalid -listener-size: %v", err)
	}
	if o.duration <= 0 || o.uniqueRequests < 1 || o.fanoutClients < 1 || o.listenerRounds < 1 {
		return fail("-duration, -unique-requests, -fanout-clients and -listener-rounds must be positive")
	}
	if o.upstream != "" && !isLoopbackURL(o.upstream) {
		return fail("-upstream %q is not on the loopback network; the benchmark only talks to 127.0.0.1", o.upstream)
	}
	return o, nil
}

// parseCounts reads a comma-separated list of positive whole numbers.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number; give a list such as 1,64", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// parseSize reads a byte count such as 1024, 64KiB, 256MiB or 1GiB.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	factor := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, factor = strings.TrimSuffix(s, u.suffix), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size such as 1024, 64KiB, 256MiB or 1GiB", s)
	}
	return n * factor, nil
}

// run starts the servers, runs every selected scenario and prints the
// results and the verdict on each target.
func run(ctx context.Context, o *options, log *slog.Logger, out io.Writer) error {
	env, err := newEnvironment(ctx, o, log)
	if err != nil {
		return err
	}
	defer env.close()

	rep := &report{Machine: describeMachine(), Started: time.Now().UTC(), Args: os.Args[1:]}
	for _, name := range o.scenarios {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Info("scenario", "name", name)
		var err error
		switch name {
		case "hot":
			err = env.runHot(ctx, rep)
		case "unique":
			err = env.runUnique(ctx, rep)
		case "fanout":
			err = env.runFanout(ctx, rep)
		case "listener":
			err = env.runListener(ctx, rep)
		}
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
	}

	rep.evaluate(o)
	rep.print(out)
	if o.jsonOut != "" {
		if err := rep.writeJSON(o.jsonOut); err != nil {
			return err
		}
		log.Info("wrote results", "file", o.jsonOut)
	}
	return nil
}
