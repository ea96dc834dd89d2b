package harness

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NewS3Client returns an aws-sdk-go-v2 S3 client for a path-style endpoint
// such as an S3Server's Endpoint or an Agent's S3URL, signing with the
// static test credentials in Region. It keeps the SDK's defaults (checksums,
// streaming uploads) except one: it never retries, so each call is exactly
// one request and upstream counts stay exact. optFns change the options
// after these, for example to restore the standard retryer.
func NewS3Client(endpoint string, optFns ...func(*s3.Options)) *s3.Client {
	options := s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		Retryer:      aws.NopRetryer{},
	}
	return s3.New(options, optFns...)
}
