package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// listenerDirect names the listener rows that bypass the agent.
const listenerDirect = "versitygw direct"

// listenerPath is one way for the S3 client to reach versitygw.
type listenerPath struct {
	name   string
	client *s3.Client
	agent  *agent // nil for the direct path
	rows   []*measurement
}

// listenerConfigs are the agent configurations the listener scenario
// measures: the defaults, whose 100 ms batch window delays every GET, and
// no window.
var listenerConfigs = []agentConfig{agentDefault, agentWindow0}

// listenerTarget names the rows of an agent configuration.
func listenerTarget(cfg agentConfig) string {
	return strings.Replace(cfg.name, "agent", "agent S3 listener,", 1)
}

// runListener measures a single-stream PUT and GET of -listener-size bytes
// with aws-sdk-go-v2, through the agent's S3 listener and straight to
// versitygw, -listener-rounds times, rotating which path goes first. The
// agents send their calls to versitygw directly, without the counting
// proxy, so the paths differ by the agent alone.
func (e *environment) runListener(ctx context.Context, rep *report) error {
	e.waitQuiet(ctx)
	paths := []*listenerPath{{name: listenerDirect, client: e.newS3Client(e.upstream)}}
	for _, cfg := range listenerConfigs {
		a, err := e.startAgent(cfg, e.upstream, true)
		if err != nil {
			return err
		}
		defer a.stop()
		paths = append(paths, &listenerPath{name: listenerTarget(cfg), client: e.newS3Client(a.s3URL), agent: a})
	}

	size := e.opts.listenerSize
	for round := 1; round <= e.opts.listenerRounds; round++ {
		for i := range paths {
			p := paths[(i+round-1)%len(paths)]
			key := fmt.Sprintf("%s/listener-r%d-p%d", e.runID, round, slices.Index(paths, p))
			if err := e.measureTransfers(ctx, rep, p, key, size, round); err != nil {
				return err
			}
			if _, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)}); err != nil {
				e.log.Warn("deleting a listener object failed", "key", key, "error", err)
			}
		}
	}

	for _, p := range paths {
		if p.agent == nil {
			continue
		}
		rss, err := p.agent.peakRSS()
		if err != nil {
			return err
		}
		for _, m := range p.rows {
			m.PeakRSSMiB = round1(float64(rss) / (1 << 20))
		}
	}
	return nil
}

// measureTransfers PUTs key through p, then GETs it back, each as one
// measurement.
func (e *environment) measureTransfers(ctx context.Context, rep *report, p *listenerPath, key string, size int64, round int) error {
	pid := 0
	if p.agent != nil {
		pid = p.agent.pid()
	}
	for _, op := range []string{"PUT", "GET"} {
		e.waitQuiet(ctx)
		m := &measurement{Scenario: "listener", Target: p.name, Note: fmt.Sprintf("%s round %d", op, round), UpstreamCalls: -1}
		var profile chan struct{}
		if p.agent != nil && e.opts.profileDir != "" {
			profile = e.captureProfile(p.agent, fmt.Sprintf("listener-%s-%s-round%d", p.name, op, round), 3)
		}
		before := e.sampleCPU(pid)
		t0 := time.Now()
		var err error
		if op == "PUT" {
			err = putObject(ctx, p.client, e.bucket, key, size)
		} else {
			err = getObject(ctx, p.client, e.bucket, key, size)
		}
		elapsed := time.Since(t0)
		after := e.sampleCPU(pid)
		if err != nil {
			return fmt.Errorf("%s %s through %s: %w", op, key, p.name, err)
		}

		m.Requests = 1
		m.Seconds = round3(elapsed.Seconds())
		m.MBPerSecond = round1(float64(size) / 1e6 / elapsed.Seconds())
		own := (after.ownTicks - before.ownTicks) + (after.agentTicks - before.agentTicks)
		m.ForeignCPUPercent = round1(math.Max(0, float64(after.busyTicks-before.busyTicks-own)) / elapsed.Seconds())
		if pid != 0 {
			m.AgentCPUPercent = round1(float64(after.agentTicks-before.agentTicks) / elapsed.Seconds())
		}
		if profile != nil {
			<-profile
		}
		p.rows = append(p.rows, m)
		rep.add(m)
		e.log.Info("measured", "scenario", "listener", "target", p.name, "op", op, "round", round,
			"seconds", m.Seconds, "mb_per_s", m.MBPerSecond)
	}
	return nil
}

// newS3Client returns an S3 client for a path-style endpoint with the
// SDK's default checksum and signing behaviour and no retries, so that a
// failure shows instead of being hidden in the time.
func (e *environment) newS3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       e.opts.region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(e.opts.accessKey, e.opts.secretKey, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func putObject(ctx context.Context, client *s3.Client, bucket, key string, size int64) error {
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          newPatternReader(key, size),
		ContentLength: aws.Int64(size),
	})
	return err
}

// getObject reads key and checks every byte of it.
func getObject(ctx context.Context, client *s3.Client, bucket, key string, size int64) error {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	n, err := io.CopyBuffer(newPatternChecker(key), out.Body, make([]byte, 256<<10))
	if err != nil {
		return fmt.Errorf("reading the body after %d bytes: %w", n, err)
	}
	if n != size {
		return fmt.Errorf("read %d bytes, want %d", n, size)
	}
	return nil
}
