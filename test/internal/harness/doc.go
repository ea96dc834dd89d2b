// Package harness starts the real servers that the integration tests under
// test/ run against, all on 127.0.0.1:
//
//   - Versitygw starts a versitygw S3 gateway (posix backend) on a
//     temporary directory and seeds it with buckets and objects.
//   - NewCounter puts a counting reverse proxy in front of an upstream, so
//     that tests count the calls that reach S3 rather than trusting the
//     agent's own numbers, and can inject errors, holds and cut bodies.
//   - StartAgent builds the agent binary once per test process and runs it
//     with the given flags.
//
// Every process it starts is stopped by t.Cleanup, and its log is printed
// when the test fails. A server or client that is not installed skips the
// test, unless S3BA_REQUIRE_SERVERS=1 or CI=true, which turn the skip into a
// failure; test/run.sh installs everything and sets that under CI.
//
// The functions that take a testing.TB call t.Fatal and must run on the
// test's own goroutine unless their doc comment allows another goroutine.
package harness
