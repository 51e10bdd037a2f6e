package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

// TestSBOM bakes an image with packages of all three managers (this
// machine's dpkg database, an rpm database made by rpm, an apk fixture)
// and exports its SBOMs: the CycloneDX document validates against the
// official 1.5 JSON schema and decodes with the CycloneDX Go library; the
// SPDX document decodes and validates with the SPDX Go tools and carries
// the fields SPDX 2.3 requires. Each lists every package of the manifest,
// with a purl.
func TestSBOM(t *testing.T) {
	p := newPackageRoot(t)
	os.MkdirAll(filepath.Join(p.root, "var/lib"), 0o755)
	runTool(t, "cp", "-a", "/var/lib/dpkg", filepath.Join(p.root, "var/lib/dpkg"))
	writeTree(t, p.root, map[string]string{"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"})
	runTool(t, "rpm", "--root", p.root, "--dbpath", "/var/lib/rpm", "--initdb")
	(&rpmTool{root: p.root, top: t.TempDir()}).install(t, "hello", "1.0", map[string]string{"usr/share/hello/greeting": "v1\n"})
	(&apkTool{root: p.root, installed: map[string]apkPackage{}}).install(t, "musl", "1.2.4", map[string]string{"lib/ld-musl-x86_64.so.1": "musl\n"})
	if r := driftd(t, nil, "bake", "--config", p.config, "--root", p.root, "--key", p.key, "--out", p.manifest,
		"--label", "image=web", "--label", "version=2026.11.28"); r.code != 0 {
		t.Fatalf("bake: %v", r)
	}

	// What the manifest lists, as purl-free keys: manager name version.
	var shown struct {
		Packages []struct{ Manager, Name, Version, Arch string }
	}
	if err := json.Unmarshal([]byte(driftd(t, nil, "show", p.manifest, "--format", "json").stdout), &shown); err != nil {
		t.Fatal(err)
	}
	var want []string
	managers := map[string]int{}
	for _, pk := range shown.Packages {
		want = append(want, pk.Name+" "+pk.Version)
		managers[pk.Manager]++
	}
	slices.Sort(want)
	if managers["dpkg"] != dpkgInstalled(t, filepath.Join(p.root, "var/lib/dpkg")) || managers["dpkg"] < 100 || managers["rpm"] != 1 || managers["apk"] != 1 {
		t.Fatalf("manifest packages by manager: %v", managers)
	}

	t.Run("cyclonedx", func(t *testing.T) {
		r := driftd(t, nil, "show", p.manifest, "--sbom", "cyclonedx", "--pubkey", p.pub)
		if r.code != 0 {
			t.Fatal(r)
		}
		validateCycloneDX(t, []byte(r.stdout))
		var bom cdx.BOM
		if err := cdx.NewBOMDecoder(strings.NewReader(r.stdout), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
			t.Fatal(err)
		}
		if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != cdx.SpecVersion1_5 || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
			t.Errorf("header: %s %s %s", bom.BOMFormat, bom.SpecVersion, bom.SerialNumber)
		}
		if c := bom.Metadata.Component; c == nil || c.Name != "web" || c.Version != "2026.11.28" {
			t.Errorf("metadata component %+v: want the image's labels", c)
		}
		var got []string
		for _, c := range *bom.Components {
			switch c.Type {
			case cdx.ComponentTypeOS:
				if c.Name != "debian" || c.Version != "12" {
					t.Errorf("operating system %s %s", c.Name, c.Version)
				}
			case cdx.ComponentTypeLibrary:
				if !strings.HasPrefix(c.PackageURL, "pkg:") || !strings.Contains(c.PackageURL, "@") {
					t.Errorf("%s: purl %q", c.Name, c.PackageURL)
				}
				got = append(got, c.Name+" "+c.Version)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("components: %d, want the manifest's %d packages", len(got), len(want))
		}
		for _, purl := range []string{`"pkg:rpm/debian/hello@1.0-1?arch=noarch&distro=debian-12"`, `"pkg:apk/alpine/musl@1.2.4-r0?arch=x86_64&distro=debian-12"`} {
			if !strings.Contains(r.stdout, purl) {
				t.Errorf("no purl %s", purl)
			}
		}
	})

	t.Run("spdx", func(t *testing.T) {
		r := driftd(t, nil, "show", p.manifest, "--sbom", "spdx")
		if r.code != 0 {
			t.Fatal(r)
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
			t.Fatal(err)
		}
		// The document fields SPDX 2.3 requires (clause 6), then the
		// package fields (clause 7: name, SPDXID, downloadLocation).
		for _, k := range []string{"spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo"} {
			if raw[k] == nil || raw[k] == "" {
				t.Errorf("document field %s missing", k)
			}
		}
		if raw["spdxVersion"] != "SPDX-2.3" || raw["dataLicense"] != "CC0-1.0" || raw["SPDXID"] != "SPDXRef-DOCUMENT" {
			t.Errorf("document header: %v %v %v", raw["spdxVersion"], raw["dataLicense"], raw["SPDXID"])
		}
		ci := raw["creationInfo"].(map[string]any)
		if ci["created"] == nil || len(ci["creators"].([]any)) == 0 {
			t.Errorf("creationInfo %v: want created and creators", ci)
		}
		doc, err := spdxjson.Read(strings.NewReader(r.stdout))
		if err != nil {
			t.Fatalf("the SPDX tools cannot read it: %v", err)
		}
		if err := spdxlib.ValidateDocument(doc); err != nil {
			t.Errorf("the SPDX tools reject it: %v", err)
		}
		var got []string
		for _, pk := range doc.Packages {
			if pk.PackageName == "" || pk.PackageSPDXIdentifier == "" || pk.PackageDownloadLocation == "" {
				t.Errorf("package %+v lacks a required field", pk)
			}
			if pk.PrimaryPackagePurpose != "LIBRARY" {
				continue
			}
			if len(pk.PackageExternalReferences) != 1 || pk.PackageExternalReferences[0].RefType != "purl" {
				t.Errorf("%s: external refs %+v: want its purl", pk.PackageName, pk.PackageExternalReferences)
			}
			got = append(got, pk.PackageName+" "+pk.PackageVersion)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("packages: %d, want the manifest's %d", len(got), len(want))
		}
		if a, b := r.stdout, driftd(t, nil, "show", p.manifest, "--sbom", "spdx").stdout; a != b {
			t.Error("the SBOM of one manifest differs between two exports")
		}
	})

	if r := driftd(t, nil, "show", p.manifest, "--sbom", "syft"); r.code != 2 || !strings.Contains(r.stderr, `--sbom "syft": want cyclonedx or spdx`) {
		t.Errorf("unknown SBOM format: %v", r)
	}
}

// validateCycloneDX validates a BOM against the CycloneDX 1.5 JSON schema
// that the CycloneDX Go library ships.
func validateCycloneDX(t *testing.T, bom []byte) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Fatalf("find the CycloneDX schemas: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for file, id := range map[string]string{
		"bom-1.5.schema.json":   "http://cyclonedx.org/schema/bom-1.5.schema.json",
		"spdx.schema.json":      "http://cyclonedx.org/schema/spdx.schema.json",
		"jsf-0.82.schemax.json": "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	schema, err := c.Compile("http://cyclonedx.org/schema/bom-1.5.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(bom))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("the BOM does not validate against CycloneDX 1.5: %v", err)
	}
}
