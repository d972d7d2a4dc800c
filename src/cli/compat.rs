//! Where hoist's command line differs from Docker Compose's, flag by flag, and why; the
//! refusal of a Compose flag hoist does not have names the reason instead of "unexpected".
//!
//! `tests/cli_reference.rs` checks every command and flag of Compose's CLI reference
//! (tests/cli-reference/compose.tsv) against hoist's parser: the same, or a row here.

use Diff::{Differs, Refused};

/// How hoist's flag differs from Compose's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diff {
    /// hoist does not take it: using it is an error that gives this reason.
    Refused(&'static str),
    /// hoist takes it, and this is what differs.
    Differs(&'static str),
}

/// (command, option, difference). `-` is the top-level command; an empty option is the
/// command itself.
pub const DIFFERENCES: &[(&str, &str, Diff)] = &[
    ("-", "insecure-registry", Refused("registries are trusted per host in the engine's or hoist's own configuration, not per command")),
    ("-", "verbose", Refused("a hidden debugging flag of Docker Compose; hoist has no verbose mode")),
    ("build", "builder", BUILDKIT),
    ("build", "check", BUILDKIT),
    ("build", "compress", DEPRECATED),
    ("build", "force-rm", DEPRECATED),
    ("build", "memory", BUILDKIT),
    ("build", "no-rm", DEPRECATED),
    ("build", "print", BUILDKIT),
    ("build", "provenance", BUILDKIT),
    ("build", "sbom", BUILDKIT),
    ("build", "ssh", BUILDKIT),
    ("config", "lock-image-digests", Refused("image digests are not resolved by `config` yet")),
    ("config", "models", Refused("AI models are not supported")),
    ("config", "no-consistency", Refused("hoist checks the model as it reads it: an inconsistent file is refused with its line, not printed")),
    ("config", "no-env-resolution", RESOLVED),
    ("config", "no-normalize", RESOLVED),
    ("config", "no-path-resolution", RESOLVED),
    ("config", "resolve-image-digests", Refused("image digests are not resolved by `config` yet")),
    ("convert", "", Differs("`hoist convert` converts the project to Kubernetes manifests; Compose's `convert` is an old name of `config`: use `hoist config`")),
    ("convert", "format", CONVERT),
    ("convert", "hash", CONVERT),
    ("convert", "images", CONVERT),
    ("convert", "no-consistency", CONVERT),
    ("convert", "no-interpolate", CONVERT),
    ("convert", "no-normalize", CONVERT),
    ("convert", "profiles", CONVERT),
    ("convert", "quiet", CONVERT),
    ("convert", "resolve-image-digests", CONVERT),
    ("convert", "services", CONVERT),
    ("convert", "volumes", CONVERT),
    ("create", "yes", Differs("accepted; hoist's `create` asks no questions, so there is nothing to answer")),
    ("ls", "filter", Differs("`name=X` (projects whose name contains X), the one filter Compose's `ls` applies; another key is refused")),
    ("publish", "", Refused("publishing a project as an OCI artifact is not supported")),
    ("publish", "app", Refused("publishing a project as an OCI artifact is not supported")),
    ("publish", "insecure-registry", Refused("publishing a project as an OCI artifact is not supported")),
    ("publish", "oci-version", Refused("publishing a project as an OCI artifact is not supported")),
    ("publish", "resolve-image-digests", Refused("publishing a project as an OCI artifact is not supported")),
    ("publish", "with-env", Refused("publishing a project as an OCI artifact is not supported")),
    ("publish", "yes", Refused("publishing a project as an OCI artifact is not supported")),
    ("pull", "no-parallel", Refused("deprecated in Docker Compose, where it has no effect: use --parallel 1")),
    ("rm", "all", Refused("deprecated in Docker Compose, where it has no effect: leave it out")),
    ("up", "menu", Refused("hoist has no interactive navigation menu")),
    ("up", "yes", Differs("accepted; hoist's `up` asks no questions (it never recreates a volume whose options changed), so there is nothing to answer")),
];

const RESOLVED: Diff = Refused("hoist's model is normalized as the file is read (paths resolved, env_file read): it has no unresolved form to print");
const BUILDKIT: Diff = Refused("a BuildKit option: hoist's builders (its own, and the engine's classic builder) have no such setting");
const DEPRECATED: Diff = Refused("deprecated in Docker Compose, where it has no effect: leave it out");
const CONVERT: Diff = Refused("`hoist convert` converts to Kubernetes manifests; Compose's `convert` is an old name of `config`: use `hoist config`");

/// The difference recorded for a command's option.
pub fn find(command: &str, option: &str) -> Option<Diff> {
    DIFFERENCES.iter().find(|(c, o, _)| *c == command && *o == option).map(|(_, _, d)| *d)
}
