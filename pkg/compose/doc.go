// Package compose enables a hardware backend for Immich's machine-learning
// service in a Compose file, and hardware transcoding for its server
// (Target: the ML service with hwaccel.ml.yml and an image suffix, or the
// service that transcodes with hwaccel.transcoding.yml; Prepare can do both
// in one run and one diff).
//
// The file is parsed with go.yaml.in/yaml/v3 only to locate things (the ML
// service, its image, extends block and lists, with their lines and
// columns); the change itself is a patch of the original text that touches
// only the lines that must change, so comments, blank lines, quoting,
// indentation, flow style, anchors, CRLF endings and a missing final
// newline all survive. Edit does this in memory; Prepare adds reading the
// files, the hwaccel.ml.yml next to the compose file, a unified diff and a
// check of the result with compose-go (the ML service's effective
// configuration must be the original's plus the section, and no other
// service may change); Plan.Write writes atomically with a backup.
//
// InspectFile reads what a compose file says about the ML deployment (the
// configured section, image suffix, mode, static mistakes) and, in
// Inspection.Transcoding, about transcoding on the server, for doctor.
package compose
