package sigv4

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const validAuthorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
	"SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"

func TestParseAuthorizationAccepts(t *testing.T) {
	want := Authorization{
		AccessKey:     "AKIAIOSFODNN7EXAMPLE",
		Scope:         Scope{Date: "20130524", Region: "us-east-1", Service: "s3"},
		SignedHeaders: []string{"host", "range", "x-amz-date"},
		Signature:     "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
	}
	tests := []struct {
		name  string
		value string
	}{
		{name: "SDK form", value: validAuthorization},
		{name: "no spaces after commas", value: strings.ReplaceAll(validAuthorization, ", ", ",")},
		{name: "extra spaces", value: strings.Replace(strings.ReplaceAll(validAuthorization, ", ", " ,  "), "SHA256 ", "SHA256   ", 1)},
		{name: "components reordered", value: "AWS4-HMAC-SHA256 Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024," +
			"SignedHeaders=host;range;x-amz-date,Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAuthorization(tt.value)
			if err != nil {
				t.Fatalf("ParseAuthorization() error = %v, want nil", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseAuthorization() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if got := want.String(); got != validAuthorization {
		t.Errorf("Authorization.String() = %q, want %q", got, validAuthorization)
	}
}

func TestParseAuthorizationRejects(t *testing.T) {
	replace := func(old, new string) string { return strings.Replace(validAuthorization, old, new, 1) }
	tests := []struct {
		name  string
		value string
	}{
		{name: "empty", value: ""},
		{name: "SigV2", value: "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g="},
		{name: "SigV4a", value: replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")},
		{name: "algorithm in lower case", value: replace("AWS4-HMAC-SHA256", "aws4-hmac-sha256")},
		{name: "no space after algorithm", value: replace("SHA256 ", "SHA256,")},
		{name: "trailing comma", value: validAuthorization + ","},
		{name: "unknown component", value: validAuthorization + ", Extra=1"},
		{name: "repeated Signature", value: validAuthorization + ", Signature=" + strings.Repeat("a", 64)},
		{name: "missing Signature", value: validAuthorization[:strings.Index(validAuthorization, ", Signature")]},
		{name: "component without value", value: replace("SignedHeaders=host;range;x-amz-date", "SignedHeaders=")},
		{name: "lower-case component name", value: replace("Credential=", "credential=")},
		{name: "credential with four parts", value: replace("/s3/aws4_request", "/s3")},
		{name: "credential with six parts", value: replace("/aws4_request", "/aws4_request/x")},
		{name: "empty access key", value: replace("AKIAIOSFODNN7EXAMPLE/", "/")},
		{name: "access key with a space", value: replace("AKIAIOSFODNN7EXAMPLE", "AKIA OSFODNN7EXAMPLE")},
		{name: "date with seven digits", value: replace("20130524", "2013052")},
		{name: "impossible date", value: replace("20130524", "20131332")},
		{name: "region with a dot", value: replace("us-east-1", "us.east")},
		{name: "service not s3", value: replace("/s3/", "/iam/")},
		{name: "terminator", value: replace("aws4_request", "aws4_requests")},
		{name: "signed headers unsorted", value: replace("host;range;x-amz-date", "range;host;x-amz-date")},
		{name: "signed headers repeated", value: replace("host;range;x-amz-date", "host;range;range;x-amz-date")},
		{name: "signed header upper case", value: replace("host;range", "host;Range")},
		{name: "signed header empty", value: replace("host;range", "host;;range")},
		{name: "signed headers without host", value: replace("host;range;x-amz-date", "range;x-amz-date")},
		{name: "signature upper case", value: replace("fe5f80f7", "FE5F80F7")},
		{name: "signature short", value: validAuthorization[:len(validAuthorization)-1]},
		{name: "signature not hex", value: replace("fe5f80f7", "fe5f80fg")},
		{name: "too long", value: validAuthorization + strings.Repeat(" ", maxAuthorizationLength)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAuthorization(tt.value)
			wantErrorIs(t, "ParseAuthorization()", err, ErrMalformed)
		})
	}
}
