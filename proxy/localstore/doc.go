// Package localstore serves a directory as an S3-compatible store on a
// loopback port, so that the agent can run without a cloud account. It
// speaks the S3 REST protocol with path-style addresses
// (http://127.0.0.1:PORT/bucket/key) through gofakes3 v1.2.0, and writes
// objects through gofakes3's s3afero.MultiBucketBackend. Where gofakes3 or
// that backend disagree with S3, the package handles the request itself as
// S3 would, and the comment at each such place describes what the library
// does.
//
// # Layout
//
// Each top-level folder whose name is a valid bucket name is a bucket. Each
// regular file below it, at any depth, is an object; its key is the file's
// path inside the bucket folder with "/" between folders. Files at the top
// level and folders with invalid bucket names are not served. Empty folders
// are not objects and do not appear in listings. Symbolic links to files
// are objects, and an upload to such a key writes through the link.
// Listings do not follow symbolic links to folders.
// ETags and the metadata of uploads are kept in memory, so the directory
// needs no other files and the store writes nothing but objects into it.
//
// # Behaviour that differs from S3
//
//   - Any credentials are accepted and no signature is checked, including
//     the chunk signatures and trailing checksums of aws-chunked uploads.
//     x-amz-checksum-* headers are not verified; Content-MD5 is.
//   - Keys that do not map one-to-one onto a file path are rejected on
//     writes with 400 InvalidArgument, and reads never find them. These are
//     keys with an empty segment ("a//b", or a leading or trailing "/", so
//     there are no folder-marker objects), a "." or ".." segment, a NUL
//     byte, or a segment longer than 255 bytes. A key cannot be written
//     when a folder exists at its path or a file exists at the path of one
//     of its folders, so "a" and "a/b" cannot both exist.
//   - The ETag is the MD5 of the file, computed on first use. A completed
//     multipart upload reports an ETag of the form "md5-N", but later reads
//     report the MD5 of the whole file.
//   - Stored metadata is limited to Content-Type, Content-Disposition,
//     Content-Encoding and x-amz-meta-*, and is lost when the store stops.
//     A file placed in the directory by other means is served with a
//     Content-Type guessed from its extension. Last-Modified is the file's
//     modification time.
//   - Listings ignore encoding-type=url and return keys unencoded, without
//     an EncodingType element; files whose names are not valid UTF-8 or hold
//     characters that XML 1.0 forbids are left out. Continuation tokens are
//     the base64 of the last key returned.
//   - Object versions, subresources such as ?tagging, ?acl or ?policy, and
//     UploadPartCopy fail with 501 NotImplemented. CopyObject merges the
//     source's metadata with the request's and ignores
//     x-amz-metadata-directive and the x-amz-copy-source-if-* headers.
//   - An overwrite rewrites the file in place, so a reader that is
//     streaming the old object at that moment can get a short or mixed
//     body. Multipart uploads are held in memory until they complete.
//   - Every object is a single part: partNumber=1 returns the whole object
//     as a 206 response and other part numbers return 416.
package localstore
