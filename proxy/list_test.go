package proxy

import (
	"encoding/xml"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListJSONDecodesURLEncodedNames(t *testing.T) {
	const body = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Name>photos</Name><Prefix>dir+one%2F</Prefix><Delimiter>%2F</Delimiter><MaxKeys>2</MaxKeys>
<EncodingType>url</EncodingType><KeyCount>3</KeyCount><IsTruncated>true</IsTruncated>
<NextContinuationToken>tok+/=</NextContinuationToken>
<Contents><Key>dir+one%2Fa+b.txt</Key><LastModified>2025-01-02T03:04:05.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>dir+one%2Fa%2Bb.txt</Key><LastModified>2025-01-02T03:04:05.250Z</LastModified><ETag>&quot;e2&quot;</ETag><Size>6</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>dir+one%2F100%25%2F</Prefix></CommonPrefixes>
</ListBucketResult>`
	var doc listBucketResult
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	got, err := doc.toJSON()
	if err != nil {
		t.Fatalf("toJSON() error = %v", err)
	}
	want := &listObjectsJSON{
		Name: "photos", Prefix: "dir one/", Delimiter: "/", MaxKeys: 2, KeyCount: 3, IsTruncated: true,
		NextContinuationToken: "tok+/=",
		Contents: []objectJSON{
			{Key: "dir one/a b.txt", LastModified: "2025-01-02T03:04:05Z", Size: 5, ETag: `"e1"`, StorageClass: "STANDARD"},
			{Key: "dir one/a+b.txt", LastModified: "2025-01-02T03:04:05.25Z", Size: 6, ETag: `"e2"`, StorageClass: "STANDARD"},
		},
		CommonPrefixes: []prefixJSON{{Prefix: "dir one/100%/"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("toJSON() mismatch (-want +got):\n%s", diff)
	}
}

func TestListJSONKeepsNamesWhenNotEncoded(t *testing.T) {
	doc := listBucketResult{Name: "b"}
	doc.Contents = append(doc.Contents, struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	}{Key: "100%.txt"})
	got, err := doc.toJSON()
	if err != nil {
		t.Fatalf("toJSON() error = %v", err)
	}
	if got.Contents[0].Key != "100%.txt" {
		t.Errorf("Key = %q, want %q", got.Contents[0].Key, "100%.txt")
	}
}
