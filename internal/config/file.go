package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/ossctl/ossctl/internal/atomicfile"
)

// DefaultProfile is the profile used when none is selected.
const DefaultProfile = "default"

var profileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidateProfileName checks a profile name: 1–64 characters of letters, digits, '_', '.', '-',
// starting with a letter or digit.
func ValidateProfileName(name string) error {
	if !profileNameRE.MatchString(name) {
		return fmt.Errorf("invalid profile name %q: use letters, digits, '_', '.' and '-'", name)
	}
	return nil
}

// SectionName returns the INI section that holds a profile.
func SectionName(profile string) string {
	if profile == DefaultProfile {
		return DefaultProfile
	}
	return "profile " + profile
}

func profileOfSection(section string) (string, bool) {
	if section == DefaultProfile {
		return DefaultProfile, true
	}
	name, ok := strings.CutPrefix(section, "profile ")
	if !ok {
		return "", false
	}
	name = strings.TrimSpace(name)
	if ValidateProfileName(name) != nil {
		return "", false
	}
	return name, true
}

func loadOptions() ini.LoadOptions {
	return ini.LoadOptions{
		IgnoreInlineComment:     true,
		SkipUnrecognizableLines: false,
	}
}

// File is a profiles file loaded for reading or editing.
type File struct {
	// Path is where the file lives (or will be created).
	Path string
	// Exists reports whether the file existed when loaded.
	Exists bool
	// Mode is the file's permission bits when it was loaded.
	Mode fs.FileMode
	ini  *ini.File
}

// LoadFile reads the profiles file at path. A missing file yields an empty File with Exists false.
func LoadFile(path string) (*File, error) {
	f := &File{Path: path}
	data, err := os.ReadFile(path) //nolint:gosec // G304: the config file the user chose (--config, $OSSCTL_CONFIG or ~)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.ini = ini.Empty(loadOptions())
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	f.Exists = true
	f.Mode = st.Mode().Perm()
	f.ini, err = ini.LoadSources(loadOptions(), data)
	if err != nil {
		return nil, fmt.Errorf("parsing config file %s: %w", path, err)
	}
	return f, nil
}

// InsecureMode reports whether an existing file is readable or writable by group or others.
// It is always false on Windows, where permission bits do not apply.
func (f *File) InsecureMode() bool {
	return f.Exists && runtime.GOOS != "windows" && f.Mode&0o077 != 0
}

// PermissionWarning returns the warning to print for an insecure file, or "".
func (f *File) PermissionWarning() string {
	if !f.InsecureMode() {
		return ""
	}
	return fmt.Sprintf("config file %s has mode %04o and is readable by other users; run: chmod 600 %s",
		f.Path, f.Mode, f.Path)
}

// Profiles returns the profile names in file order.
func (f *File) Profiles() []string {
	var out []string
	for _, s := range f.ini.Sections() {
		if name, ok := profileOfSection(s.Name()); ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// HasProfile reports whether the profile has a section in the file.
func (f *File) HasProfile(profile string) bool {
	return slices.Contains(f.Profiles(), profile)
}

// Get returns a raw value from a profile.
func (f *File) Get(profile string, k Key) (string, bool) {
	sec, err := f.ini.GetSection(SectionName(profile))
	if err != nil || !sec.HasKey(string(k)) {
		return "", false
	}
	return sec.Key(string(k)).String(), true
}

// Values returns every known key set in a profile.
func (f *File) Values(profile string) map[Key]string {
	out := map[Key]string{}
	for _, ki := range Keys {
		if v, ok := f.Get(profile, ki.Key); ok {
			out[ki.Key] = v
		}
	}
	return out
}

// Set validates and stores a value in a profile, creating the profile if needed. An empty value
// removes the key.
func (f *File) Set(profile string, k Key, value string) error {
	if err := ValidateProfileName(profile); err != nil {
		return err
	}
	v, err := Normalize(k, value)
	if err != nil {
		return err
	}
	ki, _ := Lookup(string(k))
	if v == "" {
		f.Unset(profile, ki.Key)
		return nil
	}
	sec, err := f.ini.GetSection(SectionName(profile))
	if err != nil {
		if sec, err = f.ini.NewSection(SectionName(profile)); err != nil {
			return fmt.Errorf("adding profile %s: %w", profile, err)
		}
	}
	sec.Key(string(ki.Key)).SetValue(v)
	return nil
}

// Unset removes a key from a profile and reports whether it was present.
func (f *File) Unset(profile string, k Key) bool {
	sec, err := f.ini.GetSection(SectionName(profile))
	if err != nil || !sec.HasKey(string(k)) {
		return false
	}
	sec.DeleteKey(string(k))
	return true
}

// DeleteProfile removes a profile and reports whether it existed.
func (f *File) DeleteProfile(profile string) bool {
	if !f.HasProfile(profile) {
		return false
	}
	f.ini.DeleteSection(SectionName(profile))
	return true
}

// Bytes renders the file.
func (f *File) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := f.ini.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("rendering config file: %w", err)
	}
	return buf.Bytes(), nil
}

// Save writes the file atomically with mode 0600, creating missing parent directories with mode
// 0700. If Path is a symlink, the link's target is replaced.
func (f *File) Save() error {
	data, err := f.Bytes()
	if err != nil {
		return err
	}
	target := f.Path
	if resolved, err := filepath.EvalSymlinks(target); err == nil {
		target = resolved
	}
	if err := writeFile(target, data, 0o600); err != nil {
		return fmt.Errorf("saving config file: %w", err)
	}
	f.Exists = true
	f.Mode = 0o600
	return nil
}

// writeFile replaces path with data atomically (internal/atomicfile) with
// mode perm, creating missing parent directories with mode 0700.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	return atomicfile.WriteFile(path, data, perm)
}
