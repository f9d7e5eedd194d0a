//go:build linux

package layoutimage

// The official images' layouts, as their Dockerfiles make them (docker
// library redis, postgres and cassandra; etcd's Dockerfile-release),
// filled with this machine's Debian packages. What the targets read from
// an image is all here: the programs where the official image has them,
// its PATH, its users with its uids, its entrypoint. What the targets do
// not use is left out (the official entrypoint scripts, gosu, most of
// the base system).

// std is the base system's PATH (Debian's, and the official images').
const std = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// entrypoint stands in for the official images' docker-entrypoint.sh,
// which the targets replace (they start the server binary with their own
// arguments).
const entrypoint = "#!/bin/sh\nexec \"$@\"\n"

// libfaketime is the host's preload library, with its libraries: the
// docker runtime mounts it into every container (clock skew), and the
// official images, with a full glibc, have what it needs.
var libfaketime = Copy{Host: "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", Optional: true}

// base is what every Debian-based official image has and the targets
// run: sh, env, install, rm.
var base = []Copy{
	{Host: "/usr/bin/dash", Image: "/usr/bin/sh"},
	{Host: "/usr/bin/env"}, {Host: "/usr/bin/install"}, {Host: "/usr/bin/rm"},
	libfaketime,
}

// Redis is redis:7's layout: redis-server in /usr/local/bin, the redis
// user with uid and gid 999, /data the working directory.
func Redis() Spec {
	return Spec{
		Name:   "redis:7",
		Copies: append([]Copy{{Host: "/usr/bin/redis-server", Image: "/usr/local/bin/redis-server"}}, base...),
		Files:  map[string]string{"/usr/local/bin/docker-entrypoint.sh": entrypoint},
		Dirs:   []string{"/data"},
		Users: []User{{Name: "root", Home: "/root"}, {Name: "redis", UID: 999, GID: 999, Home: "/home/redis"},
			{Name: "nobody", UID: 65534, GID: 65534, Home: "/nonexistent"}},
		Env:        []string{"PATH=" + std},
		Entrypoint: []string{"docker-entrypoint.sh"},
		Cmd:        []string{"redis-server"},
		WorkingDir: "/data",
	}
}

// Postgres is postgres:15's layout: Debian's PostgreSQL 15 packages
// (server in /usr/lib/postgresql/15/bin, which its PATH names), the
// postgres user with uid and gid 999, PGDATA.
func Postgres() Spec {
	return Spec{
		Name: "postgres:15",
		Copies: append([]Copy{
			{Host: "/usr/lib/postgresql/15"}, {Host: "/usr/share/postgresql/15"}, {Host: "/usr/share/zoneinfo"},
		}, base...),
		Files: map[string]string{"/usr/local/bin/docker-entrypoint.sh": entrypoint},
		Dirs:  []string{"/var/lib/postgresql/data", "/var/run/postgresql"},
		Users: []User{{Name: "root", Home: "/root"}, {Name: "postgres", UID: 999, GID: 999, Home: "/var/lib/postgresql"},
			{Name: "nobody", UID: 65534, GID: 65534, Home: "/nonexistent"}},
		Env:        []string{"PATH=" + std + ":/usr/lib/postgresql/15/bin", "PG_MAJOR=15", "PGDATA=/var/lib/postgresql/data", "LANG=en_US.utf8"},
		Entrypoint: []string{"docker-entrypoint.sh"},
		Cmd:        []string{"postgres"},
	}
}

// Etcd is etcd's own image's layout (gcr.io/etcd-development/etcd:
// distroless, no shell): etcd in /usr/local/bin, distroless's users.
func Etcd() Spec {
	return Spec{
		Name:   "gcr.io/etcd-development/etcd:v3.5",
		Copies: []Copy{{Host: "/usr/bin/etcd", Image: "/usr/local/bin/etcd"}, libfaketime},
		Dirs:   []string{"/var/etcd", "/var/lib/etcd"},
		Users: []User{{Name: "root", Home: "/root"}, {Name: "nobody", UID: 65534, GID: 65534, Home: "/nonexistent"},
			{Name: "nonroot", UID: 65532, GID: 65532, Home: "/home/nonroot"}},
		Env:        []string{"PATH=" + std},
		Cmd:        []string{"/usr/local/bin/etcd"},
		WorkingDir: "/var/etcd",
	}
}

// Cassandra is cassandra:5.0's layout: its own JVM in /opt/java/openjdk
// (here this machine's OpenJDK 17, copied), the cassandra user with uid
// and gid 999, /opt/cassandra/bin and the JVM in PATH. The server's jars
// are not in it: the target runs its own (NodeSpec.SharedDirs).
func Cassandra() Spec {
	return Spec{
		Name:   "cassandra:5.0",
		Copies: append([]Copy{{Host: "/usr/lib/jvm/java-17-openjdk-amd64", Image: "/opt/java/openjdk"}}, base...),
		Files:  map[string]string{"/usr/local/bin/docker-entrypoint.sh": entrypoint},
		Dirs:   []string{"/opt/cassandra/bin", "/var/lib/cassandra"},
		Users: []User{{Name: "root", Home: "/root"}, {Name: "cassandra", UID: 999, GID: 999, Home: "/home/cassandra"},
			{Name: "nobody", UID: 65534, GID: 65534, Home: "/nonexistent"}},
		Env: []string{"PATH=/opt/cassandra/bin:/opt/java/openjdk/bin:" + std, "JAVA_HOME=/opt/java/openjdk",
			"CASSANDRA_HOME=/opt/cassandra", "CASSANDRA_CONF=/etc/cassandra"},
		Entrypoint: []string{"docker-entrypoint.sh"},
		Cmd:        []string{"cassandra", "-f"},
	}
}
