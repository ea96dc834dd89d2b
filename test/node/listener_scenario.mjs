// Runs the client scenario of listener_clients_test.go with
// @aws-sdk/client-s3 against the S3 endpoint in S3_ENDPOINT.
//
// Input, in the directory S3_WORK_DIR: plan.json (bucket, key names, the
// Range value, the part size) and the object files that the Go test wrote.
// Output: each downloaded body as out-*.bin in that directory, and on
// standard output one JSON report whose field names match the Go test's
// nodeReport. The Go test checks every byte; this script only moves them.
// Credentials and the region come from the environment.
import { createReadStream, createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const dir = process.env.S3_WORK_DIR;
const plan = JSON.parse(await readFile(path.join(dir, "plan.json"), "utf8"));
const bucket = plan.bucket;
const file = (name) => path.join(dir, name);

// One attempt per call, so that the Go test's request counts are exact.
const client = new S3Client({
  endpoint: process.env.S3_ENDPOINT,
  forcePathStyle: true,
  region: process.env.AWS_REGION,
  maxAttempts: 1,
});

// download writes the body of a GetObject to the file out and returns the
// command's output.
async function download(key, out, extra = {}) {
  const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  await pipeline(result.Body, createWriteStream(file(out)));
  return result;
}

// stream returns the file as a Readable that carries no path, so that the
// SDK cannot learn its length from the file system.
function stream(name) {
  return Readable.from(createReadStream(file(name)));
}

async function httpStatusOf(promise) {
  try {
    await promise;
    return 200;
  } catch (err) {
    return err.$metadata?.httpStatusCode ?? 0;
  }
}

const report = {};

// Create the bucket, then put, get and head one object.
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const put = await client.send(
  new PutObjectCommand({
    Bucket: bucket,
    Key: plan.plainKey,
    Body: await readFile(file("plain.bin")),
    ContentType: "text/plain",
  }),
);
report.PutETag = put.ETag;
await download(plan.plainKey, "out-plain.bin");
const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: plan.plainKey }));
report.Head = { ContentLength: head.ContentLength, ETag: head.ETag, ContentType: head.ContentType };

// Keys that need escaping.
for (const [i, key] of plan.keys.entries()) {
  await client.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file(`key-${i}.bin`)) }),
  );
  await download(key, `out-key-${i}.bin`);
}

// A ranged GET.
const ranged = await download(plan.plainKey, "out-range.bin", { Range: plan.range });
report.ContentRange = ranged.ContentRange;

// A multipart upload, then a download of the whole object.
const big = await readFile(file("big.bin"));
const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: plan.bigKey }));
const parts = [];
for (let start = 0, number = 1; start < big.length; start += plan.partSize, number++) {
  const part = await client.send(
    new UploadPartCommand({
      Bucket: bucket,
      Key: plan.bigKey,
      UploadId: created.UploadId,
      PartNumber: number,
      Body: big.subarray(start, start + plan.partSize),
    }),
  );
  parts.push({ ETag: part.ETag, PartNumber: number });
}
await client.send(
  new CompleteMultipartUploadCommand({
    Bucket: bucket,
    Key: plan.bigKey,
    UploadId: created.UploadId,
    MultipartUpload: { Parts: parts },
  }),
);
await download(plan.bigKey, "out-big.bin");

// A stream body of known length, which the SDK sends as aws-chunked with a
// trailing checksum.
const streamSize = (await readFile(file("stream.bin"))).length;
await client.send(
  new PutObjectCommand({ Bucket: bucket, Key: plan.streamKey, Body: stream("stream.bin"), ContentLength: streamSize }),
);
await download(plan.streamKey, "out-stream.bin");

// A stream body of unknown length.
try {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: plan.unknownKey, Body: stream("stream.bin") }));
  report.UnknownLengthError = "";
} catch (err) {
  report.UnknownLengthError = `${err.name}: ${err.message}`;
}

// Presigned GET and PUT, sent with fetch.
const getURL = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: plan.plainKey }), {
  expiresIn: 600,
});
const got = await fetch(getURL);
report.PresignedGetStatus = got.status;
await pipeline(Readable.fromWeb(got.body), createWriteStream(file("out-presigned-get.bin")));
const putURL = await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: plan.presigned }), {
  expiresIn: 600,
});
const sent = await fetch(putURL, { method: "PUT", body: await readFile(file("presigned.bin")) });
report.PresignedPutStatus = sent.status;
await sent.arrayBuffer();

// Listings, v1 and v2.
const v1 = await client.send(new ListObjectsCommand({ Bucket: bucket }));
report.ListV1 = (v1.Contents ?? []).map((o) => o.Key);
const v2 = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
report.ListV2 = (v2.Contents ?? []).map((o) => o.Key);

// Delete, then HEAD the object again.
await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: plan.plainKey }));
report.HeadAfterDelete = await httpStatusOf(
  client.send(new HeadObjectCommand({ Bucket: bucket, Key: plan.plainKey })),
);

process.stdout.write(JSON.stringify(report) + "\n");
