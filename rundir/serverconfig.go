package rundir

// ServerConfig is the user's own server configuration of a run
// (--server-config), as test.json keeps it.
type ServerConfig struct {
	// File is the path given on the command line.
	File string `json:"file"`
	// Format names the syntax: postgresql.conf, redis.conf,
	// cassandra.yaml or etcd flags.
	Format string `json:"format"`
	// Text is the file's content, verbatim.
	Text string `json:"text"`
	// Effective are the settings in force after the merge, the same on
	// every node: chaoscheck's defaults, each replaced by the user's
	// setting of that name, then the user's other settings.
	// Node-specific settings (addresses, ports, directories, replication
	// wiring) are chaoscheck's alone and not listed.
	Effective []ConfigSetting `json:"effective"`
}

// Source says where an effective setting comes from.
type Source string

const (
	// FromChaoscheck: chaoscheck's default, not in the user's file.
	FromChaoscheck Source = "chaoscheck"
	// FromUser: the user's file.
	FromUser Source = "server-config"
)

// ConfigSetting is one effective server setting.
type ConfigSetting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Source is where the value comes from.
	Source Source `json:"source"`
	// Line is the setting's line in the user's file (FromUser only).
	Line int `json:"line,omitempty"`
	// Default is chaoscheck's value that the user's replaced, if any.
	Default string `json:"default,omitempty"`
}
