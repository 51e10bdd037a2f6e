package reporter

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"driftd/baseline"
)

// SBOM formats `driftd show --sbom` writes.
const (
	SBOMCycloneDX = "cyclonedx"
	SBOMSPDX      = "spdx"
)

// WriteSBOM exports the manifest's package list as a CycloneDX 1.5 or SPDX
// 2.3 JSON document, so that image scanners scan the very image a host is
// proven to match. The document is deterministic: its time is the bake's,
// its serial number derives from the baseline digest.
func WriteSBOM(w io.Writer, m *baseline.Manifest, format, version string) error {
	var doc any
	switch format {
	case SBOMCycloneDX:
		doc = cycloneDX(m, version)
	case SBOMSPDX:
		doc = spdx(m, version)
	default:
		return fmt.Errorf("--sbom %q: want %s or %s", format, SBOMCycloneDX, SBOMSPDX)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // a purl's & stays readable
	return enc.Encode(doc)
}

// uuidOf is a UUID (version 8, "custom") made from the baseline digest:
// the same image always gets the same serial number.
func uuidOf(m *baseline.Manifest) string {
	b := m.Digest
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// imageName is what the SBOM calls the image: its bake label, or the
// baseline id.
func imageName(m *baseline.Manifest) (name, version string) {
	name = m.Header.Labels["image"]
	if name == "" {
		name = "baseline-" + m.ID()
	}
	return name, m.Header.Labels["version"]
}

// purl is a package URL (github.com/package-url/purl-spec) for p, in the
// form scanners match against their vulnerability data.
func purl(p *baseline.Package, os *baseline.OSRelease) string {
	typ, namespace := p.Manager, ""
	switch p.Manager {
	case "dpkg":
		typ = "deb"
	case "apk":
		namespace = "alpine"
	}
	version := p.Version
	var quals []string
	if p.Manager == "rpm" {
		if epoch, rest, ok := strings.Cut(version, ":"); ok {
			version = rest
			quals = append(quals, "epoch="+epoch)
		}
	}
	if p.Arch != "" {
		quals = append([]string{"arch=" + purlEscape(p.Arch)}, quals...)
	}
	if os != nil && os.ID != "" {
		if namespace == "" {
			namespace = os.ID
		}
		distro := os.ID
		if os.VersionID != "" {
			distro += "-" + os.VersionID
		}
		quals = append(quals, "distro="+purlEscape(distro))
	}
	var b strings.Builder
	b.WriteString("pkg:" + typ + "/")
	if namespace != "" {
		b.WriteString(purlEscape(namespace) + "/")
	}
	b.WriteString(purlEscape(p.Name) + "@" + purlEscape(version))
	if len(quals) > 0 {
		b.WriteString("?" + strings.Join(quals, "&"))
	}
	return b.String()
}

// purlEscape percent-encodes all but the characters purl leaves as they
// are.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-_~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// The CycloneDX 1.5 document, as much of it as driftd fills in.
type cdxBOM struct {
	BOMFormat    string         `json:"bomFormat"`
	SpecVersion  string         `json:"specVersion"`
	SerialNumber string         `json:"serialNumber"`
	Version      int            `json:"version"`
	Metadata     cdxMetadata    `json:"metadata"`
	Components   []cdxComponent `json:"components"`
}

type cdxMetadata struct {
	Timestamp  string        `json:"timestamp"`
	Tools      cdxTools      `json:"tools"`
	Component  cdxComponent  `json:"component"`
	Properties []cdxProperty `json:"properties"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type    string `json:"type"`
	BOMRef  string `json:"bom-ref,omitempty"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	PURL    string `json:"purl,omitempty"`
	// Properties carry what purl cannot: the package manager.
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func cycloneDX(m *baseline.Manifest, version string) cdxBOM {
	name, imageVersion := imageName(m)
	bom := cdxBOM{
		BOMFormat: "CycloneDX", SpecVersion: "1.5", SerialNumber: "urn:uuid:" + uuidOf(m), Version: 1,
		Metadata: cdxMetadata{
			Timestamp: time.Unix(m.Header.Created, 0).UTC().Format(time.RFC3339),
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: "driftd", Version: version}}},
			Component: cdxComponent{Type: "container", BOMRef: "image", Name: name, Version: imageVersion},
			Properties: []cdxProperty{
				{Name: "driftd:baseline_id", Value: m.ID()},
				{Name: "driftd:baseline_verified", Value: fmt.Sprint(m.Verified)},
			},
		},
		Components: []cdxComponent{},
	}
	if os := m.Header.OS; os != nil {
		bom.Components = append(bom.Components, cdxComponent{Type: "operating-system", BOMRef: "os", Name: os.ID, Version: os.VersionID})
	}
	for i := range m.Packages {
		p := &m.Packages[i]
		u := purl(p, m.Header.OS)
		bom.Components = append(bom.Components, cdxComponent{
			Type: "library", BOMRef: u, Name: p.Name, Version: p.Version, PURL: u,
			Properties: []cdxProperty{{Name: "driftd:package_manager", Value: p.Manager}},
		})
	}
	return bom
}

// The SPDX 2.3 document, as much of it as driftd fills in.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
	Comment  string   `json:"comment,omitempty"`
}

type spdxPackage struct {
	Name                  string            `json:"name"`
	SPDXID                string            `json:"SPDXID"`
	VersionInfo           string            `json:"versionInfo,omitempty"`
	DownloadLocation      string            `json:"downloadLocation"`
	FilesAnalyzed         bool              `json:"filesAnalyzed"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs          []spdxExternalRef `json:"externalRefs,omitempty"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

func spdx(m *baseline.Manifest, version string) spdxDocument {
	name, imageVersion := imageName(m)
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              name,
		DocumentNamespace: "urn:uuid:" + uuidOf(m),
		CreationInfo: spdxCreationInfo{
			Created:  time.Unix(m.Header.Created, 0).UTC().Format(time.RFC3339),
			Creators: []string{"Tool: driftd-" + version},
			Comment:  "The packages of driftd baseline " + m.ID() + ".",
		},
		Packages: []spdxPackage{{
			Name: name, SPDXID: "SPDXRef-Image", VersionInfo: imageVersion, DownloadLocation: "NOASSERTION",
			PrimaryPackagePurpose: "CONTAINER",
		}},
		Relationships: []spdxRelationship{{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: "SPDXRef-Image"}},
	}
	if os := m.Header.OS; os != nil {
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: os.ID, SPDXID: "SPDXRef-OperatingSystem", VersionInfo: os.VersionID, DownloadLocation: "NOASSERTION",
			PrimaryPackagePurpose: "OPERATING-SYSTEM",
		})
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: "SPDXRef-Image", Type: "CONTAINS", Related: "SPDXRef-OperatingSystem"})
	}
	for i := range m.Packages {
		p := &m.Packages[i]
		id := fmt.Sprintf("SPDXRef-Package-%d-%s", i+1, spdxIDSafe(p.Name))
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: p.Name, SPDXID: id, VersionInfo: p.Version, DownloadLocation: "NOASSERTION",
			PrimaryPackagePurpose: "LIBRARY",
			ExternalRefs:          []spdxExternalRef{{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: purl(p, m.Header.OS)}},
		})
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: "SPDXRef-Image", Type: "CONTAINS", Related: id})
	}
	return doc
}

// spdxIDSafe keeps the characters an SPDX identifier allows: letters,
// digits, "." and "-".
func spdxIDSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}
