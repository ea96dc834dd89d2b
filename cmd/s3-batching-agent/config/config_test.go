package config

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse(nil, io.Discard)
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"port", c.Port, 8080},
		{"s3-port", c.S3Port, 9000},
		{"batching", c.Batching, true},
		{"batch-window", c.BatchWindow, 100 * time.Millisecond},
		{"max-batch-size", c.MaxBatchSize, 10},
		{"debug", c.Debug, false},
		{"aws-region", c.AWSRegion, "us-east-1"},
		{"default-bucket", c.DefaultBucket, ""},
		{"join-inflight", c.JoinInFlight, false},
		{"log-format", c.LogFormat, "json"},
		{"client-auth", c.ClientAuth, "none"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("--%s default = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if c.Endpoint != nil {
		t.Errorf("--endpoint default = %v, want none", c.Endpoint)
	}
}

func TestParseRejectsInvalidValues(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantFlag string
	}{
		{"negative window", []string{"--batch-window=-1s"}, "batch-window"},
		{"zero batch size", []string{"--max-batch-size", "0"}, "max-batch-size"},
		{"malformed endpoint", []string{"--endpoint", "not a url"}, "endpoint"},
		{"endpoint without scheme", []string{"--endpoint", "127.0.0.1:7070"}, "endpoint"},
		{"endpoint and local store", []string{"--endpoint", "http://127.0.0.1:7070", "--local-store", "/tmp"}, "local-store"},
		{"log format", []string{"--log-format", "xml"}, "log-format"},
		{"port out of range", []string{"--port", "70000"}, "port"},
		{"same ports", []string{"--port", "9000"}, "s3-port"},
		{"bind not an IP", []string{"--bind", "localhost"}, "bind"},
		{"client auth mode", []string{"--client-auth", "maybe"}, "client-auth"},
		{"verify without file", []string{"--client-auth", "verify"}, "client-credentials"},
		{"verify with missing file", []string{"--client-auth", "verify", "--client-credentials", "/nonexistent/clients.json"}, "client-credentials"},
		{"local store missing", []string{"--local-store", "/nonexistent/store"}, "local-store"},
		{"local store is a file", []string{"--local-store", "config_test.go"}, "local-store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			_, err := Parse(tt.args, &out)
			var usage *UsageError
			if !errors.As(err, &usage) {
				t.Fatalf("Parse(%q) error = %v, want a *UsageError", tt.args, err)
			}
			if usage.Flag != tt.wantFlag {
				t.Errorf("UsageError.Flag = %q, want %q", usage.Flag, tt.wantFlag)
			}
			if !strings.Contains(out.String(), "--"+tt.wantFlag) {
				t.Errorf("output %q does not name --%s", out.String(), tt.wantFlag)
			}
		})
	}
}

func TestParseUnknownFlagAndHelp(t *testing.T) {
	if _, err := Parse([]string{"--no-such-flag"}, io.Discard); err == nil {
		t.Errorf("Parse(--no-such-flag) error = nil, want an error")
	}
	if _, err := Parse([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Parse(-h) error = %v, want flag.ErrHelp", err)
	}
}
