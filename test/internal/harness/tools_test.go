package harness

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// seededServer starts versitygw with bkt/hello.txt.
func seededServer(t *testing.T) *S3Server {
	t.Helper()
	s := Versitygw(t)
	s.CreateBucket(t, "bkt")
	s.Put(t, "bkt", "hello.txt", []byte("hello from versitygw"), "text/plain", nil)
	return s
}

// runClient runs cmd with the harness environment plus extra, and returns
// its standard output.
func runClient(t *testing.T, cmd *exec.Cmd, extra ...string) string {
	t.Helper()
	cmd.Env = ChildEnv(extra...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s = %v\nstderr:\n%s", cmd, err, stderr.String())
	}
	return string(out)
}

// fetch returns the body of a GET of url, failing the test unless the
// status is 200.
func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET presigned URL = %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the presigned GET: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET presigned URL status = %d, want 200; body %q", resp.StatusCode, body)
	}
	return string(body)
}

const nodeScript = `
const { S3Client, GetObjectCommand } = require("@aws-sdk/client-s3");
const { getSignedUrl } = require("@aws-sdk/s3-request-presigner");
(async () => {
  const client = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true });
  const input = { Bucket: "bkt", Key: "hello.txt" };
  const out = await client.send(new GetObjectCommand(input));
  console.log(await out.Body.transformToString());
  console.log(await getSignedUrl(client, new GetObjectCommand(input), { expiresIn: 300 }));
})().catch((err) => { console.error(err); process.exit(1); });
`

func TestNodeClientReadsVersitygw(t *testing.T) {
	node, dir := Node(t)
	s := seededServer(t)

	cmd := exec.Command(node, "-e", nodeScript)
	cmd.Dir = dir
	lines := strings.Split(strings.TrimSpace(runClient(t, cmd, "S3_ENDPOINT="+s.Endpoint)), "\n")
	if len(lines) != 2 {
		t.Fatalf("node output = %q, want the body and a presigned URL", lines)
	}

	if lines[0] != "hello from versitygw" {
		t.Errorf("node GetObject = %q, want %q", lines[0], "hello from versitygw")
	}
	if got := fetch(t, lines[1]); got != "hello from versitygw" {
		t.Errorf("GET node presigned URL = %q, want %q", got, "hello from versitygw")
	}
}

const pythonScript = `
import os, boto3, requests
from botocore.config import Config
client = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"],
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
print(client.get_object(Bucket="bkt", Key="hello.txt")["Body"].read().decode())
url = client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "hello.txt"}, ExpiresIn=300)
response = requests.get(url, timeout=10)
response.raise_for_status()
print(response.text)
`

func TestPythonClientReadsVersitygw(t *testing.T) {
	python := Python(t, "boto3", "requests")
	s := seededServer(t)

	out := runClient(t, exec.Command(python, "-c", pythonScript), "S3_ENDPOINT="+s.Endpoint)

	want := "hello from versitygw\nhello from versitygw\n"
	if out != want {
		t.Errorf("python boto3 and requests output = %q, want %q", out, want)
	}
}

func TestAWSCLIReadsVersitygw(t *testing.T) {
	aws := AWSCLI(t)
	s := seededServer(t)

	out := runClient(t, exec.Command(aws, "--endpoint-url", s.Endpoint, "s3", "cp", "s3://bkt/hello.txt", "-"))
	if out != "hello from versitygw" {
		t.Errorf("aws s3 cp output = %q, want %q", out, "hello from versitygw")
	}

	url := strings.TrimSpace(runClient(t, exec.Command(aws, "--endpoint-url", s.Endpoint, "s3", "presign", "s3://bkt/hello.txt")))
	if got := fetch(t, url); got != "hello from versitygw" {
		t.Errorf("GET aws s3 presign URL = %q, want %q", got, "hello from versitygw")
	}
}
