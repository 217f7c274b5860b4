package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// Source says where a resolved value came from.
type Source string

// Sources, highest precedence first.
const (
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceProfile Source = "profile"
	SourceOssutil Source = "ossutil"
	SourceDerived Source = "derived"
	SourceDefault Source = "default"
	SourceUnset   Source = "unset"
)

// Value is one resolved setting.
type Value struct {
	Key   Key    `json:"key"`
	Value string `json:"value"`
	// Source is the layer that supplied the value.
	Source Source `json:"source"`
	// Origin names the exact flag, variable or file, e.g. "--endpoint", "$OSS_ENDPOINT",
	// "profile default in /home/u/.ossctlconfig".
	Origin string `json:"origin,omitempty"`
	// Secret values must be masked for display.
	Secret bool `json:"-"`
}

// Display returns the value for display, masked when secret.
func (v Value) Display() string {
	if v.Secret {
		return Mask(v.Value)
	}
	return v.Value
}

// Inputs is everything Resolve looks at. Zero values mean "not given".
type Inputs struct {
	// ConfigFlag is the --config value, if the flag was given.
	ConfigFlag *string
	// ProfileFlag is the --profile value, if the flag was given.
	ProfileFlag *string
	// Flags holds the global flags that were explicitly given (Changed), by key.
	Flags map[Key]string
	// LookupEnv reads the environment (os.LookupEnv in production).
	LookupEnv func(string) (string, bool)
	// HomeDir is the user's home directory, for the default file locations.
	HomeDir string
}

// Resolved is the outcome of Resolve: every setting with its source, plus the file and profile.
type Resolved struct {
	// ConfigPath is the profiles file consulted (it may not exist).
	ConfigPath string `json:"configFile"`
	// ConfigSource says how ConfigPath was chosen (flag, env or default).
	ConfigSource Source `json:"configFileSource"`
	// Profile is the selected profile name.
	Profile string `json:"profile"`
	// ProfileSource says how the profile was chosen (flag, env or default).
	ProfileSource Source `json:"profileSource"`
	// OssutilPath is the ossutil config file consulted, if it exists.
	OssutilPath string `json:"ossutilConfigFile,omitempty"`
	// Warnings are problems worth telling the user about (insecure file modes, ignored values).
	Warnings []string `json:"warnings,omitempty"`

	values map[Key]Value
}

// Get returns the resolved value of k.
func (r *Resolved) Get(k Key) Value {
	if v, ok := r.values[k]; ok {
		return v
	}
	return Value{Key: k, Source: SourceUnset, Secret: info(k).Secret}
}

// All returns every setting in display order.
func (r *Resolved) All() []Value {
	out := make([]Value, 0, len(Keys))
	for _, ki := range Keys {
		out = append(out, r.Get(ki.Key))
	}
	return out
}

// Endpoint returns the endpoint ("" when unset).
func (r *Resolved) Endpoint() string { return r.Get(KeyEndpoint).Value }

// Region returns the region ("" when unknown).
func (r *Resolved) Region() string { return r.Get(KeyRegion).Value }

// AccessKeyID returns the AccessKey ID.
func (r *Resolved) AccessKeyID() string { return r.Get(KeyAccessKeyID).Value }

// AccessKeySecret returns the AccessKey secret.
func (r *Resolved) AccessKeySecret() string { return r.Get(KeyAccessKeySecret).Value }

// STSToken returns the STS security token ("" for long-term keys).
func (r *Resolved) STSToken() string { return r.Get(KeySTSToken).Value }

// SignVersion returns "v1" or "v4".
func (r *Resolved) SignVersion() string { return r.Get(KeySignVersion).Value }

// PathStyle reports whether path-style addressing is forced.
func (r *Resolved) PathStyle() bool { return r.Get(KeyPathStyle).Value == "true" }

// ConnectTimeout returns the connect timeout.
func (r *Resolved) ConnectTimeout() time.Duration { return r.duration(KeyConnectTimeout) }

// ReadTimeout returns the per-read/write timeout.
func (r *Resolved) ReadTimeout() time.Duration { return r.duration(KeyReadTimeout) }

func (r *Resolved) duration(k Key) time.Duration {
	d, err := ParseDuration(r.Get(k).Value)
	if err != nil {
		d, _ = ParseDuration(info(k).Default)
	}
	return d
}

// Secrets returns the non-empty secret values, for redaction.
func (r *Resolved) Secrets() []string {
	var out []string
	for _, v := range r.values {
		if v.Secret && v.Value != "" {
			out = append(out, v.Value)
		}
	}
	return out
}

// HasCredentials reports whether an AccessKey pair was found.
func (r *Resolved) HasCredentials() bool {
	return r.AccessKeyID() != "" && r.AccessKeySecret() != ""
}

// layer is one source of values during resolution.
type layer struct {
	source Source
	values map[Key]Value
}

func lookupEnv(in Inputs, name string) (string, bool) {
	if in.LookupEnv == nil {
		return "", false
	}
	v, ok := in.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return "", false
	}
	return v, true
}

// DefaultPath returns the profiles file path selected by --config, $OSSCTL_CONFIG or the default
// ~/.ossctlconfig, with its source.
func DefaultPath(in Inputs) (string, Source) {
	if in.ConfigFlag != nil && *in.ConfigFlag != "" {
		return expandHome(*in.ConfigFlag, in.HomeDir), SourceFlag
	}
	if v, ok := lookupEnv(in, EnvConfig); ok {
		return expandHome(v, in.HomeDir), SourceEnv
	}
	return filepath.Join(in.HomeDir, DefaultFileName), SourceDefault
}

// SelectedProfile returns the profile selected by --profile, $OSSCTL_PROFILE or "default".
func SelectedProfile(in Inputs) (string, Source) {
	if in.ProfileFlag != nil && *in.ProfileFlag != "" {
		return *in.ProfileFlag, SourceFlag
	}
	if v, ok := lookupEnv(in, EnvProfile); ok {
		return strings.TrimSpace(v), SourceEnv
	}
	return DefaultProfile, SourceDefault
}

func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok && home != "" {
		return filepath.Join(home, rest)
	}
	return p
}

// Resolve computes every setting. Precedence, highest first: an explicitly given flag; the
// environment; the selected profile; the [Credentials] section of ~/.ossutilconfig (endpoint and
// credentials only); derived values and defaults.
//
// Credentials (access_key_id, access_key_secret, sts_token) resolve as a group: the highest layer
// that sets an AccessKey ID or secret supplies all three, so a key pair is never assembled from
// two places. That layer must set both the ID and the secret.
//
// region, when unset, is derived from an aliyuncs.com endpoint (oss-cn-hangzhou.aliyuncs.com →
// cn-hangzhou); sign_version defaults to v4 when a region is known and v1 otherwise.
func Resolve(in Inputs) (*Resolved, error) {
	r := &Resolved{values: map[Key]Value{}}
	r.ConfigPath, r.ConfigSource = DefaultPath(in)
	r.Profile, r.ProfileSource = SelectedProfile(in)
	if err := ValidateProfileName(r.Profile); err != nil {
		return nil, err
	}

	file, err := LoadFile(r.ConfigPath)
	if err != nil {
		return nil, err
	}
	if w := file.PermissionWarning(); w != "" {
		r.Warnings = append(r.Warnings, w)
	}
	if r.ProfileSource != SourceDefault && !file.HasProfile(r.Profile) {
		msg := fmt.Sprintf("profile %q not found in %s", r.Profile, r.ConfigPath)
		if ps := file.Profiles(); len(ps) > 0 {
			msg += " (profiles: " + strings.Join(ps, ", ") + ")"
		}
		return nil, errors.New(msg)
	}

	layers := make([]layer, 0, 4)

	// Flags.
	fl := layer{source: SourceFlag, values: map[Key]Value{}}
	for k, raw := range in.Flags {
		ki := info(k)
		v, err := ki.normalize(raw)
		if err != nil {
			return nil, fmt.Errorf("invalid --%s: %w", ki.Flag, err)
		}
		if v != "" {
			fl.values[k] = Value{Key: k, Value: v, Source: SourceFlag, Origin: "--" + ki.Flag, Secret: ki.Secret}
		}
	}
	layers = append(layers, fl)

	// Environment.
	el := layer{source: SourceEnv, values: map[Key]Value{}}
	for _, ki := range Keys {
		for _, name := range ki.Env {
			raw, ok := lookupEnv(in, name)
			if !ok {
				continue
			}
			v, err := ki.normalize(raw)
			if err != nil {
				return nil, fmt.Errorf("invalid $%s: %w", name, err)
			}
			el.values[ki.Key] = Value{Key: ki.Key, Value: v, Source: SourceEnv, Origin: "$" + name, Secret: ki.Secret}
			break
		}
	}
	layers = append(layers, el)

	// Profile.
	pl := layer{source: SourceProfile, values: map[Key]Value{}}
	origin := fmt.Sprintf("profile %s in %s", r.Profile, r.ConfigPath)
	for k, raw := range file.Values(r.Profile) {
		ki := info(k)
		v, err := ki.normalize(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid %s: %w", origin, k, err)
		}
		if v != "" {
			pl.values[k] = Value{Key: k, Value: v, Source: SourceProfile, Origin: origin, Secret: ki.Secret}
		}
	}
	layers = append(layers, pl)

	// ossutil.
	ol, path, warn := ossutilLayer(in)
	if warn != "" {
		r.Warnings = append(r.Warnings, warn)
	}
	if path != "" {
		r.OssutilPath = path
		layers = append(layers, ol)
	}

	// Non-credential keys: first layer wins.
	for _, ki := range Keys {
		if ki.Credential {
			continue
		}
		for _, l := range layers {
			if v, ok := l.values[ki.Key]; ok {
				r.values[ki.Key] = v
				break
			}
		}
	}

	// Credentials: first layer with an ID or secret supplies the group.
	if tok, ok := fl.values[KeySTSToken]; ok && fl.values[KeyAccessKeyID].Value == "" && fl.values[KeyAccessKeySecret].Value == "" {
		return nil, fmt.Errorf("%s needs --access-key-id and --access-key-secret as well", tok.Origin)
	}
	for _, l := range layers {
		id, hasID := l.values[KeyAccessKeyID]
		secret, hasSecret := l.values[KeyAccessKeySecret]
		if !hasID && !hasSecret {
			if tok, ok := l.values[KeySTSToken]; ok {
				r.Warnings = append(r.Warnings, fmt.Sprintf("ignoring %s: it is set without an AccessKey pair in the same place", tok.Origin))
			}
			continue
		}
		if !hasID {
			return nil, fmt.Errorf("incomplete credentials: %s sets access_key_secret but not access_key_id", secret.Origin)
		}
		if !hasSecret {
			return nil, fmt.Errorf("incomplete credentials: %s sets access_key_id but not access_key_secret", id.Origin)
		}
		r.values[KeyAccessKeyID] = id
		r.values[KeyAccessKeySecret] = secret
		if tok, ok := l.values[KeySTSToken]; ok {
			r.values[KeySTSToken] = tok
		}
		break
	}

	// Derived values and defaults.
	if _, ok := r.values[KeyRegion]; !ok {
		if reg := RegionFromEndpoint(r.Endpoint()); reg != "" {
			r.values[KeyRegion] = Value{Key: KeyRegion, Value: reg, Source: SourceDerived, Origin: "from endpoint " + r.Endpoint()}
		}
	}
	if _, ok := r.values[KeySignVersion]; !ok {
		if r.Region() != "" {
			r.values[KeySignVersion] = Value{Key: KeySignVersion, Value: SignV4, Source: SourceDefault, Origin: "v4 because a region is known"}
		} else {
			r.values[KeySignVersion] = Value{Key: KeySignVersion, Value: SignV1, Source: SourceDefault, Origin: "v1 because no region is known"}
		}
	}
	for _, ki := range Keys {
		if _, ok := r.values[ki.Key]; !ok && ki.Default != "" {
			r.values[ki.Key] = Value{Key: ki.Key, Value: ki.Default, Source: SourceDefault, Secret: ki.Secret}
		}
	}
	if r.SignVersion() == SignV4 && r.Region() == "" {
		sv := r.Get(KeySignVersion)
		return nil, fmt.Errorf("sign_version v4 (from %s) needs a region: set --region, $OSS_REGION or region in the profile", sv.Origin)
	}
	return r, nil
}

var aliyunEndpointRE = regexp.MustCompile(`^oss-([a-z]{2}-[a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$`)

// RegionFromEndpoint derives a region id from a public or internal aliyuncs.com endpoint, e.g.
// "https://oss-cn-hangzhou.aliyuncs.com" → "cn-hangzhou". It returns "" for anything else.
func RegionFromEndpoint(endpoint string) string {
	host := strings.ToLower(endpoint)
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexAny(host, "/:"); i >= 0 {
		host = host[:i]
	}
	m := aliyunEndpointRE.FindStringSubmatch(host)
	if m == nil {
		return ""
	}
	return m[1]
}

// ossutilAliases maps ossutil [Credentials] option names (lowercased, '_' removed) to our keys,
// following the aliases ossutil v1 accepts.
var ossutilAliases = map[string]Key{
	"endpoint":        KeyEndpoint,
	"host":            KeyEndpoint,
	"accesskeyid":     KeyAccessKeyID,
	"accessid":        KeyAccessKeyID,
	"accesskeysecret": KeyAccessKeySecret,
	"accesskey":       KeyAccessKeySecret,
	"ststoken":        KeySTSToken,
}

// OssutilPath returns the ossutil config file to consult: $OSSCTL_OSSUTIL_CONFIG or
// ~/.ossutilconfig. Setting the variable to "none" disables it.
func OssutilPath(in Inputs) string {
	if v, ok := lookupEnv(in, EnvOssutilConfig); ok {
		if v == "none" {
			return ""
		}
		return expandHome(v, in.HomeDir)
	}
	if in.HomeDir == "" {
		return ""
	}
	return filepath.Join(in.HomeDir, OssutilFileName)
}

func ossutilLayer(in Inputs) (layer, string, string) {
	l := layer{source: SourceOssutil, values: map[Key]Value{}}
	path := OssutilPath(in)
	if path == "" {
		return l, "", ""
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: the user's ossutil config file, read on purpose
	if errors.Is(err, fs.ErrNotExist) {
		return l, "", ""
	}
	if err != nil {
		return l, "", fmt.Sprintf("ignoring ossutil config %s: %v", path, err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{IgnoreInlineComment: true, Loose: true}, data)
	if err != nil {
		return l, "", fmt.Sprintf("ignoring ossutil config %s: %v", path, err)
	}
	sec, err := f.GetSection("Credentials")
	if err != nil {
		return l, "", ""
	}
	origin := path + " [Credentials]"
	for _, k := range sec.Keys() {
		name := strings.ReplaceAll(strings.ToLower(k.Name()), "_", "")
		key, ok := ossutilAliases[name]
		if !ok {
			continue
		}
		ki := info(key)
		v, err := ki.normalize(k.String())
		if err != nil {
			return layer{source: SourceOssutil, values: map[Key]Value{}}, "",
				fmt.Sprintf("ignoring ossutil config %s: invalid %s: %v", path, k.Name(), err)
		}
		if v != "" {
			l.values[key] = Value{Key: key, Value: v, Source: SourceOssutil, Origin: origin, Secret: ki.Secret}
		}
	}
	return l, path, ""
}
