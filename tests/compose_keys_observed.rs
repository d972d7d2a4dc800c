//! Every row of src/compose/keys.rs that a backend applies names the tests that observe its
//! effect there (from inside the container, the host's cgroup files, the engine's records),
//! and the observation tests no other file had. Engine tests need root and dockerd; each
//! runs the same file on both backends and expects what Docker does (the reference).

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::HOIST;
use common::stack::Stack;
use hoist::compose::keys::{self, Key, Status};

// ---- the table ------------------------------------------------------------------------

/// For each row a backend applies (or applies for some values): the tests that observe
/// it, (built-in, Docker). A test is named as `cargo test` names it: `file::fn`, and
/// `file::builtin::fn` / `file::docker::fn` for the pairs `on_both_backends!` makes.
///
/// Rows judged to have no effect but on the loaded model (so that `hoist config` or what
/// the loaded project runs is their observation): `version`, `name`, `include*`,
/// `extends*`, `profiles`, `ports[].name`, `ports[].app_protocol`, `configs.*.name`,
/// `secrets.*.name`, `volumes[].consistency`; they are still observed through a running
/// project where one shows them (model_keys).
#[rustfmt::skip]
const OBSERVED: &[(&str, &[&str], &[&str])] = &[
    ("version", &[MODEL_B], &[MODEL_D]),
    ("name", &[MODEL_B], &[MODEL_D]),
    ("include", &[MODEL_B], &[MODEL_D]),
    ("include[].path", &[MODEL_B], &[MODEL_D]),
    ("include[].project_directory", &[MODEL_B], &[MODEL_D]),
    ("include[].env_file", &[MODEL_B], &[MODEL_D]),
    ("services", &["cli::builtin::up_ps_logs_down"], &["cli::docker::up_ps_logs_down"]),
    ("services.*.build", &[BUILD_B, "cli::builtin::build_push_pull_up"], &[BUILD_D, "cli::docker::build_push_pull_up"]),
    ("services.*.build.context", &[BUILD_B], &[BUILD_D]),
    ("services.*.build.dockerfile", &[BUILD_B], &[BUILD_D]),
    ("services.*.build.dockerfile_inline", &[BUILD_B], &[BUILD_D]),
    ("services.*.build.args", &[BUILD_B], &[BUILD_D]),
    ("services.*.build.target", &[BUILD_B], &[BUILD_D]),
    ("services.*.build.labels", &[BUILD_B], &[BUILD_D]),
    ("services.*.build.no_cache", &[BUILD_B], &[BUILD_D]),
    // Differs: when the pull fails, Docker fails the build; the built-in runtime warns
    // and builds from the local base.
    ("services.*.build.pull", &[BUILD_B], &[BUILD_D]),
    ("services.*.build.tags", &[BUILD_B], &[BUILD_D]),
    ("services.*.cap_add", &[ISO_CAPS], &[ISO_CAPS]),
    ("services.*.cap_drop", &[ISO_CAPS], &[ISO_CAPS]),
    ("services.*.command", &[PROC_B], &[PROC_D]),
    ("services.*.configs", &[VOL_B, "secrets::builtin::secrets_and_configs_reach_the_container"], &[VOL_D, "secrets::docker::secrets_and_configs_reach_the_container"]),
    ("services.*.configs[].source", &[VOL_B], &[VOL_D]),
    ("services.*.configs[].target", &[VOL_B, "secrets::builtin::secrets_and_configs_reach_the_container"], &[VOL_D, "secrets::docker::secrets_and_configs_reach_the_container"]),
    ("services.*.configs[].uid", &[VOL_B], &[VOL_D]),
    ("services.*.configs[].gid", &[VOL_B], &[VOL_D]),
    // Found wrong: a YAML octal `0o400` is read as 256, then its digits again as octal (0o256).
    ("services.*.configs[].mode", &[VOL_B, MODES_B], &[VOL_D, MODES_D]),
    ("services.*.container_name", &[PROC_B, NET_B], &[PROC_D, NET_D]),
    ("services.*.cpu_period", &[], &[CPU_D]),
    ("services.*.cpu_quota", &[], &[CPU_D]),
    ("services.*.cpu_shares", &[RES_B], &[RES_D]),
    ("services.*.cpus", &[RES_B, "deploy_resources::builtin::service_keys_alone_are_applied"], &[RES_D, "deploy_resources::docker::service_keys_alone_are_applied"]),
    ("services.*.cpuset", &[], &[CPU_D]),
    ("services.*.depends_on", &[LIFE_B, "daily::builtin::up_down_plain_progress"], &[LIFE_D, "daily::docker::up_down_plain_progress"]),
    ("services.*.depends_on.*.condition", &["cli::builtin::depends_on_completed", "daily::builtin::failing_dependency_ends_up_with_its_reason"], &["cli::docker::depends_on_completed", "daily::docker::failing_dependency_ends_up_with_its_reason"]),
    ("services.*.depends_on.*.required", &["hostile::faults::builtin::optional_dependencies_warn_and_go_on"], &["hostile::faults::docker::optional_dependencies_warn_and_go_on"]),
    ("services.*.depends_on.*.restart", &[LIFE_B], &[LIFE_D]),
    ("services.*.deploy", &["deploy_resources::builtin::limits_and_reservation_are_applied", MODEL_B], &["deploy_resources::docker::limits_and_reservation_are_applied", MODEL_D]),
    ("services.*.deploy.mode", &[MODEL_B], &[MODEL_D]),
    ("services.*.deploy.replicas", &[MODEL_B], &[MODEL_D]),
    ("services.*.deploy.resources", &["deploy_resources::builtin::limits_and_reservation_are_applied"], &["deploy_resources::docker::limits_and_reservation_are_applied"]),
    ("services.*.deploy.resources.limits", &["deploy_resources::builtin::limits_and_reservation_are_applied"], &["deploy_resources::docker::limits_and_reservation_are_applied"]),
    ("services.*.deploy.resources.limits.cpus", &["deploy_resources::builtin::deploy_limits_twin_the_service_keys"], &["deploy_resources::docker::deploy_limits_twin_the_service_keys"]),
    ("services.*.deploy.resources.limits.memory", &["deploy_resources::builtin::deploy_limits_twin_the_service_keys"], &["deploy_resources::docker::deploy_limits_twin_the_service_keys"]),
    ("services.*.deploy.resources.limits.pids", &["deploy_resources::builtin::deploy_limits_twin_the_service_keys"], &["deploy_resources::docker::deploy_limits_twin_the_service_keys"]),
    ("services.*.deploy.resources.reservations", &["deploy_resources::builtin::limits_and_reservation_are_applied"], &["deploy_resources::docker::limits_and_reservation_are_applied"]),
    ("services.*.deploy.resources.reservations.memory", &["deploy_resources::builtin::deploy_limits_twin_the_service_keys"], &["deploy_resources::docker::deploy_limits_twin_the_service_keys"]),
    ("services.*.develop", &["watch::builtin::watch_sync"], &["watch::docker::watch_sync"]),
    ("services.*.develop.watch", &["watch::builtin::watch_sync"], &["watch::docker::watch_sync"]),
    ("services.*.develop.watch[].action", &["watch::builtin::watch_sync", "watch::builtin::watch_rebuild_restart"], &["watch::docker::watch_sync", "watch::docker::watch_rebuild_restart"]),
    ("services.*.develop.watch[].exec", &[WATCH_B], &[WATCH_D]),
    ("services.*.develop.watch[].exec.command", &[WATCH_B], &[WATCH_D]),
    ("services.*.develop.watch[].exec.environment", &[WATCH_B], &[WATCH_D]),
    ("services.*.develop.watch[].exec.privileged", &[WATCH_B], &[WATCH_D]),
    ("services.*.develop.watch[].exec.user", &[WATCH_B], &[WATCH_D]),
    ("services.*.develop.watch[].exec.working_dir", &[WATCH_B], &[WATCH_D]),
    ("services.*.develop.watch[].include", &[WATCH_B], &[WATCH_D]),
    ("services.*.develop.watch[].ignore", &["watch::builtin::watch_sync"], &["watch::docker::watch_sync"]),
    ("services.*.develop.watch[].initial_sync", &["watch::builtin::watch_sync"], &["watch::docker::watch_sync"]),
    ("services.*.develop.watch[].path", &["watch::builtin::watch_sync"], &["watch::docker::watch_sync"]),
    ("services.*.develop.watch[].target", &["watch::builtin::watch_sync"], &["watch::docker::watch_sync"]),
    ("services.*.devices", &["isolation::devices_are_dockers_allow_list"], &["isolation::devices_are_dockers_allow_list"]),
    ("services.*.devices[].source", &["isolation::devices_are_dockers_allow_list"], &["isolation::devices_are_dockers_allow_list"]),
    ("services.*.devices[].target", &["isolation::devices_are_dockers_allow_list"], &["isolation::devices_are_dockers_allow_list"]),
    ("services.*.devices[].permissions", &["isolation::devices_are_dockers_allow_list"], &["isolation::devices_are_dockers_allow_list"]),
    ("services.*.dns", &[DNS_B], &[DNS_D]),
    ("services.*.dns_opt", &["compose_keys_applied::dns_opt_is_the_options_line"], &["compose_keys_applied::dns_opt_is_the_options_line"]),
    ("services.*.dns_search", &[DNS_B], &[DNS_D]),
    ("services.*.domainname", &["compose_keys_applied::domainname_gives_the_fqdn"], &["compose_keys_applied::domainname_gives_the_fqdn"]),
    ("services.*.entrypoint", &[PROC_B], &[PROC_D]),
    ("services.*.env_file", &[PROC_B], &[PROC_D]),
    ("services.*.env_file[].path", &[PROC_B], &[PROC_D]),
    ("services.*.env_file[].required", &[PROC_B], &[PROC_D]),
    ("services.*.environment", &[PROC_B, "cli::builtin::exec_and_run"], &[PROC_D, "cli::docker::exec_and_run"]),
    // Link variables of exposed ports (the built-in runtime's only use of it) and the
    // engine's record on Docker.
    ("services.*.expose", &["examples::links_example"], &["examples::links_example", NET_D]),
    ("services.*.extends", &[MODEL_B], &[MODEL_D]),
    ("services.*.extends.file", &[MODEL_B], &[MODEL_D]),
    ("services.*.extends.service", &[MODEL_B], &[MODEL_D]),
    ("services.*.external_links", &[NET_B], &[NET_D]),
    ("services.*.extra_hosts", &[PROC_B], &[PROC_D]),
    ("services.*.group_add", &["compose_keys_applied::group_add_keeps_the_primary_group"], &["compose_keys_applied::group_add_keeps_the_primary_group"]),
    ("services.*.healthcheck", &[LIFE_B], &[LIFE_D]),
    ("services.*.healthcheck.disable", &[LIFE_B], &[LIFE_D]),
    ("services.*.healthcheck.interval", &[LIFE_B], &[LIFE_D]),
    ("services.*.healthcheck.retries", &[LIFE_B], &[LIFE_D]),
    // Found wrong on engines before API 1.44 (this one is 1.41): dropped, where Docker
    // Compose refuses it.
    ("services.*.healthcheck.start_interval", &[], &[START_INTERVAL_D]),
    ("services.*.healthcheck.start_period", &[LIFE_B], &[LIFE_D]),
    ("services.*.healthcheck.test", &[LIFE_B], &[LIFE_D]),
    // Found wrong on the built-in runtime: the check does time out, but its killed process
    // is never reaped, so the container cannot be stopped (PID 1 waits in
    // zap_pid_ns_processes for the supervisor's zombie).
    ("services.*.healthcheck.timeout", &[HEALTH_TIMEOUT_B], &[HEALTH_TIMEOUT_D]),
    ("services.*.hostname", &[PROC_B, "compose_keys_applied::domainname_gives_the_fqdn"], &[PROC_D, "compose_keys_applied::domainname_gives_the_fqdn"]),
    ("services.*.image", &["cli::builtin::up_ps_logs_down"], &["cli::docker::up_ps_logs_down"]),
    ("services.*.init", &[PROC_B], &[PROC_D]),
    ("services.*.ipc", &[PROC_B], &[PROC_D]),
    ("services.*.labels", &[PROC_B], &[PROC_D]),
    ("services.*.links", &[NET_B, "examples::links_example"], &[NET_D, "examples::links_example"]),
    ("services.*.mem_limit", &[RES_B], &[RES_D]),
    ("services.*.mem_reservation", &[RES_B], &[RES_D]),
    ("services.*.memswap_limit", &[RES_B], &[RES_D]),
    ("services.*.network_mode", &[NET_B, DNS_B], &[NET_D, DNS_D]),
    ("services.*.networks", &[NET_B], &[NET_D]),
    ("services.*.networks.*.aliases", &[NET_B], &[NET_D]),
    ("services.*.networks.*.ipv4_address", &[NET_B], &[NET_D]),
    ("services.*.networks.*.priority", &[NET_B], &[NET_D]),
    ("services.*.oom_kill_disable", &[RES_B], &[RES_D]),
    ("services.*.pid", &[PROC_B], &[PROC_D]),
    ("services.*.pids_limit", &[RES_B], &[RES_D]),
    ("services.*.platform", &[PROC_B], &[PROC_D]),
    ("services.*.ports", &[PORTS_B, "examples::ports_example"], &[PORTS_D, "examples::ports_example"]),
    ("services.*.ports[].app_protocol", &[MODEL_B], &[MODEL_D]),
    ("services.*.ports[].host_ip", &[PORTS_B], &[PORTS_D]),
    ("services.*.ports[].mode", &[PORTS_B], &[PORTS_D]),
    ("services.*.ports[].name", &[MODEL_B], &[MODEL_D]),
    ("services.*.ports[].protocol", &[PORTS_B], &[PORTS_D]),
    ("services.*.ports[].published", &[PORTS_B], &[PORTS_D]),
    ("services.*.ports[].target", &[PORTS_B], &[PORTS_D]),
    ("services.*.privileged", &[ISO_CAPS, "isolation::devices_are_dockers_allow_list"], &[ISO_CAPS, "isolation::devices_are_dockers_allow_list"]),
    ("services.*.profiles", &[MODEL_B, "daily::builtin::profiles_on_the_command_line"], &[MODEL_D, "daily::docker::profiles_on_the_command_line"]),
    ("services.*.pull_policy", &[BUILD_B], &[BUILD_D]),
    ("services.*.read_only", &[PROC_B], &[PROC_D]),
    ("services.*.restart", &[LIFE_B], &[LIFE_D]),
    ("services.*.runtime", &[PROC_B], &[PROC_D]),
    ("services.*.scale", &[MODEL_B], &[MODEL_D]),
    ("services.*.secrets", &[VOL_B, "secrets::builtin::secrets_and_configs_reach_the_container"], &[VOL_D, "secrets::docker::secrets_and_configs_reach_the_container"]),
    ("services.*.secrets[].source", &[VOL_B, "secrets::builtin::secrets_and_configs_reach_the_container"], &[VOL_D, "secrets::docker::secrets_and_configs_reach_the_container"]),
    ("services.*.secrets[].target", &[VOL_B], &[VOL_D]),
    ("services.*.secrets[].uid", &[VOL_B], &[VOL_D]),
    ("services.*.secrets[].gid", &[VOL_B], &[VOL_D]),
    // Found wrong: a YAML octal `0o400` is read as 256, then its digits again as octal (0o256).
    ("services.*.secrets[].mode", &[VOL_B, MODES_B], &[VOL_D, MODES_D]),
    ("services.*.security_opt", &[ISO_CAPS], &[ISO_CAPS]),
    ("services.*.shm_size", &[PROC_B], &[PROC_D]),
    ("services.*.stdin_open", &[PROC_B], &[PROC_D]),
    ("services.*.stop_grace_period", &[STOP_B], &[STOP_D]),
    ("services.*.stop_signal", &[STOP_B], &[STOP_D]),
    ("services.*.sysctls", &[PROC_B], &[PROC_D]),
    ("services.*.tmpfs", &["compose_keys_applied::tmpfs_is_nosuid_nodev_noexec"], &["compose_keys_applied::tmpfs_is_nosuid_nodev_noexec"]),
    ("services.*.tty", &[PROC_B], &[PROC_D]),
    ("services.*.ulimits", &[PROC_B], &[PROC_D]),
    ("services.*.ulimits.*.hard", &[PROC_B], &[PROC_D]),
    ("services.*.ulimits.*.soft", &[PROC_B], &[PROC_D]),
    ("services.*.use_api_socket", &[PROC_B], &[PROC_D]),
    ("services.*.user", &["compose_keys_applied::group_add_keeps_the_primary_group", ISO_CAPS], &["compose_keys_applied::group_add_keeps_the_primary_group", ISO_CAPS]),
    ("services.*.userns_mode", &[PROC_B], &[PROC_D]),
    ("services.*.volumes", &[VOL_B, "cli::builtin::recreate_keeps_anonymous_volume"], &[VOL_D, "cli::docker::recreate_keeps_anonymous_volume"]),
    ("services.*.volumes[].type", &[VOL_B, "compose_keys_applied::tmpfs_is_nosuid_nodev_noexec"], &[VOL_D, "compose_keys_applied::tmpfs_is_nosuid_nodev_noexec"]),
    ("services.*.volumes[].source", &[VOL_B], &[VOL_D]),
    ("services.*.volumes[].target", &[VOL_B], &[VOL_D]),
    ("services.*.volumes[].read_only", &[VOL_B], &[VOL_D]),
    ("services.*.volumes[].consistency", &[VOL_B], &[VOL_D]),
    ("services.*.volumes[].bind", &[VOL_B], &[VOL_D]),
    ("services.*.volumes[].bind.create_host_path", &[VOL_B], &[VOL_D]),
    ("services.*.volumes[].volume", &["hostile::layers::named_volumes_are_seeded_as_docker_seeds_them"], &["hostile::layers::named_volumes_are_seeded_as_docker_seeds_them"]),
    ("services.*.volumes[].volume.nocopy", &["hostile::layers::named_volumes_are_seeded_as_docker_seeds_them"], &["hostile::layers::named_volumes_are_seeded_as_docker_seeds_them"]),
    ("services.*.volumes[].tmpfs", &[VOL_B], &[VOL_D]),
    ("services.*.volumes[].tmpfs.size", &[VOL_B], &[VOL_D]),
    // Found wrong: a YAML octal `0o400` is read as 256, then its digits again as octal (0o256).
    ("services.*.volumes[].tmpfs.mode", &[VOL_B, MODES_B], &[VOL_D, MODES_D]),
    ("services.*.volumes_from", &[VOL_B, "examples::data_volumes_example"], &[VOL_D, "examples::data_volumes_example"]),
    ("services.*.working_dir", &[PROC_B], &[PROC_D]),
    ("services.*.net", &[LEGACY_B], &[LEGACY_D]),
    ("services.*.dockerfile", &[LEGACY_B], &[LEGACY_D]),
    ("services.*.cpu_set", &[], &[CPU_D]),
    ("networks", &[NET_B], &[NET_D]),
    ("networks.*.attachable", &[NET_B], &[NET_D]),
    ("networks.*.driver", &[NET_B], &[NET_D]),
    ("networks.*.enable_ipv4", &[NET_B], &[NET_D]),
    ("networks.*.enable_ipv6", &[NET_B], &[NET_D]),
    ("networks.*.external", &[NET_B], &[NET_D]),
    ("networks.*.external.name", &[NET_B], &[NET_D]),
    ("networks.*.internal", &[NET_B], &[NET_D]),
    ("networks.*.ipam", &[NET_B], &[NET_D]),
    ("networks.*.ipam.config", &[NET_B], &[NET_D]),
    ("networks.*.ipam.config[].subnet", &[NET_B], &[NET_D]),
    ("networks.*.ipam.config[].gateway", &[NET_B], &[NET_D]),
    ("networks.*.ipam.config[].ip_range", &[NET_B], &[NET_D]),
    ("networks.*.ipam.driver", &[NET_B], &[NET_D]),
    ("networks.*.labels", &[NET_B], &[NET_D]),
    ("networks.*.name", &[NET_B], &[NET_D]),
    ("volumes", &[VOL_B], &[VOL_D]),
    ("volumes.*.driver", &[VOL_B], &[VOL_D]),
    ("volumes.*.external", &[VOL_B], &[VOL_D]),
    ("volumes.*.external.name", &[VOL_B], &[VOL_D]),
    ("volumes.*.labels", &[VOL_B], &[VOL_D]),
    ("volumes.*.name", &[VOL_B], &[VOL_D]),
    ("configs", &[VOL_B], &[VOL_D]),
    ("configs.*.content", &[VOL_B, "secrets::builtin::secrets_and_configs_reach_the_container"], &[VOL_D, "secrets::docker::secrets_and_configs_reach_the_container"]),
    ("configs.*.environment", &[VOL_B], &[VOL_D]),
    ("configs.*.external", &[VOL_B], &[VOL_D]),
    ("configs.*.file", &[VOL_B], &[VOL_D]),
    ("configs.*.name", &[MODEL_B], &[MODEL_D]),
    ("secrets", &[VOL_B], &[VOL_D]),
    ("secrets.*.environment", &[VOL_B, "secrets::builtin::secrets_and_configs_reach_the_container"], &[VOL_D, "secrets::docker::secrets_and_configs_reach_the_container"]),
    ("secrets.*.external", &[VOL_B], &[VOL_D]),
    ("secrets.*.file", &[VOL_B, "secrets::builtin::secrets_and_configs_reach_the_container"], &[VOL_D, "secrets::docker::secrets_and_configs_reach_the_container"]),
    ("secrets.*.name", &[MODEL_B], &[MODEL_D]),
    // Merged from the other branches of issue #18.
    ("services.*.gpus", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.gpus[].capabilities", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.gpus[].count", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.gpus[].device_ids", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.gpus[].driver", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.gpus[].options", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.deploy.resources.reservations.devices", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.deploy.resources.reservations.devices[].capabilities", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.deploy.resources.reservations.devices[].count", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.deploy.resources.reservations.devices[].device_ids", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.deploy.resources.reservations.devices[].driver", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.deploy.resources.reservations.devices[].options", &[], &["deploy_resources::device_requests_reach_the_engine"]),
    ("services.*.logging", &["logging::builtin::rotation_keeps_the_newest_lines_in_order", "logging::builtin::driver_none_keeps_nothing_and_logs_warns"], &["logging::docker::rotation_keeps_the_newest_lines_in_order", "logging::docker::driver_none_keeps_nothing_and_logs_warns", "logging::docker_log_config_is_what_compose_sets"]),
    ("services.*.logging.driver", &["logging::builtin::driver_none_keeps_nothing_and_logs_warns", "logging::builtin::unknown_driver_is_refused"], &["logging::docker::driver_none_keeps_nothing_and_logs_warns", "logging::docker_log_config_is_what_compose_sets"]),
    ("services.*.logging.options", &["logging::builtin::rotation_keeps_the_newest_lines_in_order"], &["logging::docker::rotation_keeps_the_newest_lines_in_order", "logging::docker_log_config_is_what_compose_sets"]),
    ("services.*.log_driver", &["logging::builtin::legacy_log_driver_and_log_opt"], &["logging::docker::legacy_log_driver_and_log_opt", "logging::docker_log_config_is_what_compose_sets"]),
    ("services.*.log_opt", &["logging::builtin::legacy_log_driver_and_log_opt"], &["logging::docker::legacy_log_driver_and_log_opt", "logging::docker_log_config_is_what_compose_sets"]),
    ("services.*.mac_address", &["compose_keys_netcg::builtin::mac_address"], &["compose_keys_netcg::docker::mac_address"]),
    ("services.*.networks.*.mac_address", &["compose_keys_netcg::builtin::mac_address_per_network"], &["compose_keys_netcg::docker::mac_address_per_network"]),
    ("services.*.oom_score_adj", &["compose_keys_netcg::builtin::oom_score_adj"], &["compose_keys_netcg::docker::oom_score_adj"]),
    ("services.*.cgroup_parent", &["compose_keys_netcg::builtin::cgroup_parent"], &["compose_keys_netcg::docker::cgroup_parent"]),
    ("volumes.*.driver_opts", &["compose_keys_netcg::builtin::volume_bind_device", "compose_keys_netcg::builtin::volume_tmpfs"], &["compose_keys_netcg::docker::volume_bind_device", "compose_keys_netcg::docker::volume_tmpfs"]),
    ("services.*.attach", &["compose_keys_hooks::builtin::attach_false_is_left_out"], &["compose_keys_hooks::docker::attach_false_is_left_out"]),
    ("services.*.label_file", &["compose_keys_hooks::builtin::label_file_labels_the_container"], &["compose_keys_hooks::docker::label_file_labels_the_container"]),
    ("services.*.deploy.restart_policy", &["deploy_restart::builtin::on_failure_with_max_attempts_restarts_twice_then_stays_exited", "deploy_restart::builtin::condition_none_overrides_restart_always"], &["deploy_restart::docker::on_failure_with_max_attempts_restarts_twice_then_stays_exited", "deploy_restart::docker::condition_none_overrides_restart_always"]),
    ("services.*.deploy.restart_policy.condition", &["deploy_restart::builtin::condition_none_overrides_restart_always"], &["deploy_restart::docker::condition_none_overrides_restart_always"]),
    ("services.*.deploy.restart_policy.max_attempts", &["deploy_restart::builtin::on_failure_with_max_attempts_restarts_twice_then_stays_exited"], &["deploy_restart::docker::on_failure_with_max_attempts_restarts_twice_then_stays_exited"]),
    ("services.*.post_start", &["compose_keys_hooks::builtin::post_start_runs_before_dependants", "compose_keys_hooks::builtin::failing_post_start_fails_up"], &["compose_keys_hooks::docker::post_start_runs_before_dependants", "compose_keys_hooks::docker::failing_post_start_fails_up"]),
    ("services.*.post_start[].command", &["compose_keys_hooks::builtin::post_start_runs_before_dependants", "compose_keys_hooks::builtin::failing_post_start_fails_up"], &["compose_keys_hooks::docker::post_start_runs_before_dependants", "compose_keys_hooks::docker::failing_post_start_fails_up"]),
    ("services.*.post_start[].environment", &["compose_keys_hooks::builtin::post_start_runs_before_dependants"], &["compose_keys_hooks::docker::post_start_runs_before_dependants"]),
    ("services.*.post_start[].privileged", &["compose_keys_hooks::builtin::privileged_hooks"], &["compose_keys_hooks::docker::privileged_hooks"]),
    ("services.*.post_start[].user", &["compose_keys_hooks::builtin::post_start_runs_before_dependants"], &["compose_keys_hooks::docker::post_start_runs_before_dependants"]),
    ("services.*.post_start[].working_dir", &["compose_keys_hooks::builtin::post_start_runs_before_dependants"], &["compose_keys_hooks::docker::post_start_runs_before_dependants"]),
    ("services.*.pre_stop", &["compose_keys_hooks::builtin::pre_stop_runs_before_stop_and_down", "compose_keys_hooks::builtin::pre_stop_runs_on_scale_down_not_recreate", "compose_keys_hooks::builtin::failing_pre_stop_keeps_the_container"], &["compose_keys_hooks::docker::pre_stop_runs_before_stop_and_down", "compose_keys_hooks::docker::pre_stop_runs_on_scale_down_not_recreate", "compose_keys_hooks::docker::failing_pre_stop_keeps_the_container"]),
    ("services.*.pre_stop[].command", &["compose_keys_hooks::builtin::pre_stop_runs_before_stop_and_down", "compose_keys_hooks::builtin::pre_stop_runs_on_scale_down_not_recreate", "compose_keys_hooks::builtin::failing_pre_stop_keeps_the_container"], &["compose_keys_hooks::docker::pre_stop_runs_before_stop_and_down", "compose_keys_hooks::docker::pre_stop_runs_on_scale_down_not_recreate", "compose_keys_hooks::docker::failing_pre_stop_keeps_the_container"]),
    ("services.*.pre_stop[].environment", &["compose_keys_hooks::builtin::pre_stop_runs_before_stop_and_down"], &["compose_keys_hooks::docker::pre_stop_runs_before_stop_and_down"]),
    ("services.*.pre_stop[].privileged", &["compose_keys_hooks::builtin::privileged_hooks"], &["compose_keys_hooks::docker::privileged_hooks"]),
    ("services.*.pre_stop[].user", &["compose_keys_hooks::builtin::pre_stop_runs_before_stop_and_down"], &["compose_keys_hooks::docker::pre_stop_runs_before_stop_and_down"]),
    ("services.*.pre_stop[].working_dir", &["compose_keys_hooks::builtin::pre_stop_runs_before_stop_and_down"], &["compose_keys_hooks::docker::pre_stop_runs_before_stop_and_down"]),
];

// ---- filled by the lead at merge ------------------------------------------------------
/// Rows other branches of issue #18 turn into applied rows, with their own observation
/// tests: the lead moves each into OBSERVED with those tests when merging, then empties
/// this list. Until then the meta-test checks only that they are rows.
const AT_MERGE: &[&str] = &[
];
// ---- end of the block filled at merge -------------------------------------------------

const PROC_B: &str = "compose_keys_observed::builtin::process_keys";
const PROC_D: &str = "compose_keys_observed::docker::process_keys";
const RES_B: &str = "compose_keys_observed::builtin::resource_keys";
const RES_D: &str = "compose_keys_observed::docker::resource_keys";
const CPU_D: &str = "compose_keys_observed::docker_cpu_keys";
const STOP_B: &str = "compose_keys_observed::builtin::stop_keys";
const STOP_D: &str = "compose_keys_observed::docker::stop_keys";
const LIFE_B: &str = "compose_keys_observed::builtin::restart_and_health_keys";
const LIFE_D: &str = "compose_keys_observed::docker::restart_and_health_keys";
const START_INTERVAL_D: &str = "compose_keys_observed::docker_start_interval";
const NET_B: &str = "compose_keys_observed::builtin::network_keys";
const NET_D: &str = "compose_keys_observed::docker::network_keys";
const DNS_B: &str = "compose_keys_observed::builtin::dns_keys";
const DNS_D: &str = "compose_keys_observed::docker::dns_keys";
const PORTS_B: &str = "compose_keys_observed::builtin::port_keys";
const PORTS_D: &str = "compose_keys_observed::docker::port_keys";
const VOL_B: &str = "compose_keys_observed::builtin::volume_keys";
const VOL_D: &str = "compose_keys_observed::docker::volume_keys";
const BUILD_B: &str = "compose_keys_observed::builtin::build_keys";
const BUILD_D: &str = "compose_keys_observed::docker::build_keys";
const MODEL_B: &str = "compose_keys_observed::builtin::model_keys";
const MODEL_D: &str = "compose_keys_observed::docker::model_keys";
const LEGACY_B: &str = "compose_keys_observed::builtin::legacy_keys";
const LEGACY_D: &str = "compose_keys_observed::docker::legacy_keys";
const WATCH_B: &str = "compose_keys_observed::builtin::watch_exec_keys";
const WATCH_D: &str = "compose_keys_observed::docker::watch_exec_keys";
const MODES_B: &str = "compose_keys_observed::builtin::octal_modes";
const MODES_D: &str = "compose_keys_observed::docker::octal_modes";
const HEALTH_TIMEOUT_B: &str = "compose_keys_observed::builtin::healthcheck_timeout";
const HEALTH_TIMEOUT_D: &str = "compose_keys_observed::docker::healthcheck_timeout";
const ISO_CAPS: &str = "isolation::capabilities_nnp_and_seccomp_mode_match_docker";

/// Whether the row is applied by the backend of this status, for some value at least.
fn claims(key: &Key, status: Status) -> bool {
    status == Status::Applied || key.applied_if.is_some()
}

/// Every test function of the test binaries under tests/, named as `cargo test` names it.
fn test_names() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut names = BTreeSet::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = module_of(&root, &path);
                let text = std::fs::read_to_string(&path).unwrap();
                names.extend(tests_in(&text).into_iter().map(|t| format!("{module}::{t}")));
            }
        }
    }
    names
}

/// `tests/a.rs` → `a`, `tests/h/main.rs` → `h`, `tests/h/x.rs` → `h::x`.
fn module_of(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.len() > 1 && parts.last().is_some_and(|p| p == "main") {
        parts.pop();
    }
    parts.join("::")
}

/// The tests of one file: `#[test]` / `#[tokio::test]` functions, and the `builtin::` and
/// `docker::` pairs of `on_both_backends!(...)`.
fn tests_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut marked = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            marked = true;
        } else if marked && !line.starts_with("#[") {
            let name = line.split_once("fn ").map(|(_, rest)| rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""));
            found.extend(name.filter(|n| !n.is_empty()).map(str::to_string));
            marked = false;
        }
    }
    for (_, rest) in text.match_indices("on_both_backends!(").map(|(i, _)| text.split_at(i + "on_both_backends!(".len())) {
        let args = rest.split(')').next().unwrap();
        for name in args.lines().map(|l| l.split("//").next().unwrap()).flat_map(|l| l.split(',')).map(str::trim).filter(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_')) {
            found.push(format!("builtin::{name}"));
            found.push(format!("docker::{name}"));
        }
    }
    found
}

#[test]
fn every_applied_key_names_an_observation_test() {
    let tests = test_names();
    let mut problems = Vec::new();
    for (path, builtin, docker) in OBSERVED {
        if keys::find(path).is_none() {
            problems.push(format!("{path}: listed, but not a row of KEYS"));
        }
        if AT_MERGE.contains(path) {
            problems.push(format!("{path}: both in OBSERVED and in AT_MERGE"));
        }
        for t in builtin.iter().chain(docker.iter()).filter(|t| !tests.contains(**t)) {
            problems.push(format!("{path}: no test {t} under tests/"));
        }
        if OBSERVED.iter().filter(|(p, _, _)| p == path).count() > 1 {
            problems.push(format!("{path}: listed twice"));
        }
    }
    for path in AT_MERGE.iter().filter(|p| keys::find(p).is_none()) {
        problems.push(format!("{path}: in AT_MERGE, but not a row of KEYS"));
    }
    for key in keys::KEYS.iter().filter(|k| !AT_MERGE.contains(&k.path)) {
        let row = OBSERVED.iter().find(|(p, _, _)| *p == key.path);
        for (backend, status, listed) in [("built-in", key.builtin, row.map(|r| r.1)), ("Docker", key.docker, row.map(|r| r.2))] {
            if claims(key, status) && listed.is_none_or(|l| l.is_empty()) {
                problems.push(format!("{}: applied by the {backend} backend, but no test observes it", key.path));
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_test_scanner_names_tests_as_cargo_does() {
    let text = "#[test]\nfn plain() {}\n#[tokio::test(flavor = \"multi_thread\")]\nasync fn asynch() {}\non_both_backends!(\n    one, // a comment\n    two,\n);\n";
    assert_eq!(tests_in(text), ["plain", "asynch", "builtin::one", "docker::one", "builtin::two", "docker::two"]);
    let root = Path::new("/t");
    assert_eq!(module_of(root, Path::new("/t/hostile/main.rs")), "hostile");
    assert_eq!(module_of(root, Path::new("/t/hostile/faults.rs")), "hostile::faults");
    assert!(test_names().contains("compose_keys_observed::docker::process_keys"));
}

// ---- helpers of the observation tests -------------------------------------------------

/// `exec -T service sh -c script` in the service's first container: its stdout.
fn sh(s: &Stack, service: &str, script: &str) -> String {
    s.ok(&["exec", "-T", service, "sh", "-c", script])
}

/// Polls `f` until it gives a value (30 s at most).
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `docker ...`, asserted to succeed: its stdout.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI is needed for this test");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the engine recorded for the service's first container: `docker inspect` on
/// Docker; on the built-in runtime its own record (`<root>/containers/<id>/config.json`).
fn record(s: &Stack, service: &str) -> serde_json::Value {
    let id = s.id(service);
    assert!(!id.is_empty(), "no container of {service}");
    if s.backend == "docker" {
        let v: serde_json::Value = serde_json::from_str(&docker(&["inspect", &id])).unwrap();
        return v[0].clone();
    }
    let dir = state_root().join("containers");
    let entry = std::fs::read_dir(&dir).unwrap().flatten().find(|e| e.file_name().to_string_lossy().starts_with(&id)).unwrap_or_else(|| panic!("no record of {id}"));
    serde_json::from_slice(&std::fs::read(entry.path().join("config.json")).unwrap()).unwrap()
}

/// The container's labels as the engine keeps them.
fn labels(s: &Stack, service: &str) -> serde_json::Value {
    let r = record(s, service);
    if s.backend == "docker" { r["Config"]["Labels"].clone() } else { r["spec"]["labels"].clone() }
}

/// The built-in runtime's state root, as hoist picks it.
fn state_root() -> PathBuf {
    std::env::var_os("HOIST_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/hoist"))
}

/// A file of the container's cgroup of `controller` on the host (cgroup v1 and v2):
/// Docker's `docker/<id>` (cgroupfs driver) or the built-in runtime's `hoist/<id>`.
fn cgroup_file(s: &Stack, service: &str, controller: &str, file: &str) -> Option<String> {
    let id = s.id(service);
    let parent = if s.backend == "docker" { "docker" } else { "hoist" };
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let base = if v2 { PathBuf::from(format!("/sys/fs/cgroup/{parent}")) } else { PathBuf::from(format!("/sys/fs/cgroup/{controller}/{parent}")) };
    let group = std::fs::read_dir(&base).unwrap_or_else(|e| panic!("{}: {e}", base.display())).flatten().find(|e| e.file_name().to_string_lossy().starts_with(&id))?;
    std::fs::read_to_string(group.path().join(file)).ok().map(|t| t.trim().to_string())
}

/// Puts the built-in runtime's `busybox:latest` (or Docker's) under another name.
fn tag_busybox(backend: &'static str, reference: &str) {
    common::ensure_busybox(backend);
    let out = Command::new(HOIST).args(["--backend", backend, "image", "tag", "busybox:latest", reference]).output().unwrap();
    assert!(out.status.success(), "image tag: {}", text(&out));
}

// ---- the observation tests ------------------------------------------------------------

/// What the container's processes see of the service's process keys.
fn process_keys(backend: &'static str) {
    let (platform, machine) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", "x86_64"),
        "aarch64" => ("arm64", "aarch64"),
        other => (other, other),
    };
    let s = Stack::new(
        backend,
        "obsproc",
        &format!(
            r#"services:
  p:
    image: busybox
    container_name: obsproc-{backend}
    platform: linux/{platform}
    runtime: runc
    entrypoint: ["sh", "-c", "echo entry; sleep 300; echo end", "e0"]
    command: ["c1"]
    environment: {{A: one, B: two words}}
    env_file:
      - path: ./app.env
        required: true
      - path: ./absent.env
        required: false
    working_dir: /work/here
    hostname: probehost
    extra_hosts: ["db.example:10.1.2.3", "cache.example=10.1.2.4"]
    read_only: true
    shm_size: 8m
    sysctls: {{net.core.somaxconn: 511}}
    ulimits:
      nofile: {{soft: 1000, hard: 2000}}
      nproc: 300
    tty: true
    stdin_open: true
    labels: {{org.observe.key: v1}}
    userns_mode: host
    use_api_socket: false
    ipc: shareable
  q:
    image: busybox
    command: sleep 301
    ipc: "service:p"
    pid: "service:p"
  j:
    image: busybox
    init: true
    command: sleep 302
  o:
    image: busybox
    command: sleep 303
    stdin_open: true
"#
        ),
    );
    s.write("app.env", "C=from-file\n");
    s.ok(&["up", "-d"]);
    let p = sh(
        &s,
        "p",
        "tr '\\0' ' ' < /proc/1/cmdline; echo; readlink /proc/1/cwd; pwd; tr '\\0' '\\n' < /proc/1/environ | grep -E '^(A|B|C)=' | sort; hostname; \
         grep example /etc/hosts; touch /rootfile 2>/dev/null && echo rw || echo ro; df -k /dev/shm | tail -1 | awk '{print $2}'; \
         cat /proc/sys/net/core/somaxconn; grep -E '^Max (open files|processes)' /proc/1/limits | tr -s ' '; readlink /proc/1/fd/0; uname -m; \
         tr -s ' ' < /proc/self/uid_map; test -e /var/run/docker.sock && echo socket || echo no-socket",
    );
    let expected = "sh -c echo entry; sleep 300; echo end e0 c1 \n/work/here\n/work/here\nA=one\nB=two words\nC=from-file\nprobehost\n10.1.2.3\tdb.example\n10.1.2.4\tcache.example\nro\n8192\n511\n\
         Max processes 300 300 processes \nMax open files 1000 2000 files \n/dev/pts/0\n{machine}\n 0 0 4294967295\nno-socket\n";
    assert_eq!(p, expected.replace("{machine}", machine), "{backend}");
    // stdin_open without a tty: the main process reads a pipe; without it, /dev/null.
    assert!(sh(&s, "o", "readlink /proc/1/fd/0").starts_with("pipe:"), "{backend}");
    assert_eq!(sh(&s, "j", "readlink /proc/$(pidof sleep)/fd/0").trim(), "/dev/null", "{backend}");
    // ipc and pid `service:p`: p's namespaces; `shareable` is p's own, not the host's.
    let ns = |svc: &str| sh(&s, svc, "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid");
    assert_eq!(ns("q"), ns("p"), "{backend}");
    assert_ne!(ns("j"), ns("p"), "{backend}");
    let host_ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    assert!(!ns("p").contains(&*host_ipc.to_string_lossy()), "{backend}");
    // init: PID 1 is an init, the command its child.
    assert_eq!(sh(&s, "j", "cat /proc/1/comm | grep -vx sleep >/dev/null && echo init; grep PPid /proc/$(pidof sleep)/status | tr -d '\\t'"), "init\nPPid:1\n", "{backend}");
    assert_eq!(labels(&s, "p")["org.observe.key"], "v1", "{backend}");
    assert_eq!(s.ok(&["ps", "--format", "{{.Name}}", "p"]).trim(), format!("obsproc-{backend}"));
    if backend == "docker" {
        assert_eq!(record(&s, "p")["HostConfig"]["Runtime"], "runc");
    }
}

/// The limits of the service-level resource keys, in the host's cgroup files.
fn resource_keys(backend: &'static str) {
    let s = Stack::new(
        backend,
        "obsres",
        "services:\n  r:\n    image: busybox\n    command: sleep 300\n    mem_limit: 48m\n    memswap_limit: 96m\n    mem_reservation: 24m\n    cpus: 0.25\n    cpu_shares: 512\n    pids_limit: 64\n    oom_kill_disable: false\n",
    );
    s.ok(&["up", "-d"]);
    let f = |c: &str, file: &str| cgroup_file(&s, "r", c, file).unwrap_or_else(|| panic!("{backend}: no {c}/{file}"));
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        assert_eq!(f("", "memory.max"), (48u64 << 20).to_string());
        assert_eq!(f("", "memory.swap.max"), (48u64 << 20).to_string());
        assert_eq!(f("", "memory.low"), (24u64 << 20).to_string());
        assert_eq!(f("", "cpu.max"), "25000 100000");
        assert_eq!(f("", "pids.max"), "64");
        // Docker's conversion of 512 shares to a weight.
        assert_eq!(f("", "cpu.weight"), (1 + ((512 - 2) * 9999) / 262142).to_string());
        return;
    }
    assert_eq!(f("memory", "memory.limit_in_bytes"), (48u64 << 20).to_string(), "{backend}");
    if let Some(memsw) = cgroup_file(&s, "r", "memory", "memory.memsw.limit_in_bytes") {
        assert_eq!(memsw, (96u64 << 20).to_string(), "{backend}");
    } else {
        eprintln!("no swap accounting on this host: memswap_limit checked in the engine's record only");
        if backend == "docker" {
            assert_eq!(record(&s, "r")["HostConfig"]["MemorySwap"], 96u64 << 20);
        }
    }
    assert_eq!(f("memory", "memory.soft_limit_in_bytes"), (24u64 << 20).to_string(), "{backend}");
    assert_eq!((f("cpu", "cpu.cfs_quota_us"), f("cpu", "cpu.cfs_period_us")), ("25000".into(), "100000".into()), "{backend}");
    assert_eq!(f("cpu", "cpu.shares"), "512", "{backend}");
    assert_eq!(f("pids", "pids.max"), "64", "{backend}");
    assert!(f("memory", "memory.oom_control").contains("oom_kill_disable 0"), "{backend}");
}

/// Keys only the Docker backend applies: cpuset, cpu_period and cpu_quota, and the legacy
/// cpu_set of a v1 file.
#[test]
fn docker_cpu_keys() {
    let s = Stack::new("docker", "obscpu", "services:\n  c:\n    image: busybox\n    command: sleep 300\n    cpuset: \"0\"\n    cpu_period: 50000\n    cpu_quota: 20000\n");
    s.ok(&["up", "-d"]);
    let f = |c: &str, file: &str| cgroup_file(&s, "c", c, file).unwrap_or_else(|| panic!("no {c}/{file}"));
    assert_eq!(f("cpuset", "cpuset.cpus"), "0");
    assert_eq!((f("cpu", "cpu.cfs_quota_us"), f("cpu", "cpu.cfs_period_us")), ("20000".into(), "50000".into()));
    let v1 = Stack::new("docker", "obscpuv1", "c:\n  image: busybox\n  command: sleep 300\n  cpu_set: \"0\"\n");
    v1.ok(&["up", "-d"]);
    assert_eq!(cgroup_file(&v1, "c", "cpuset", "cpuset.cpus").as_deref(), Some("0"));
}

/// `healthcheck.start_interval` on the Docker backend: in the engine's record, or, on an
/// engine older than API 1.44 (Docker 25) that cannot take it, refused as Docker Compose
/// refuses it ("can't set healthcheck.start_interval as feature require Docker Engine v25
/// or later") rather than dropped.
#[test]
fn docker_start_interval() {
    let s = Stack::new(
        "docker",
        "obsstartint",
        "services:\n  h:\n    image: busybox\n    command: sleep 300\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      start_period: 30s\n      start_interval: 2s\n",
    );
    let api = docker(&["version", "--format", "{{.Server.APIVersion}}"]);
    let (major, minor) = api.trim().split_once('.').map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())).unwrap();
    if (major, minor) < (1, 44) {
        let out = s.hoist(&["up", "-d"]);
        assert!(!out.status.success() && text(&out).contains("start_interval"), "engine API {}: start_interval was dropped, not refused as Docker Compose refuses it:\n{}", api.trim(), text(&out));
        return;
    }
    s.ok(&["up", "-d"]);
    let hc = &record(&s, "h")["Config"]["Healthcheck"];
    assert_eq!(hc["StartInterval"], 2_000_000_000u64, "the engine dropped start_interval: {hc}");
}

/// stop_signal reaches the main process; stop_grace_period is the wait before the kill.
fn stop_keys(backend: &'static str) {
    let s = Stack::new(
        backend,
        "obsstop",
        "services:\n  sig:\n    image: busybox\n    stop_signal: SIGUSR1\n    volumes: [\"./out:/out\"]\n    command: [\"sh\", \"-c\", \"trap 'echo USR1 > /out/sig; exit 0' USR1; trap 'echo TERM > /out/sig; exit 0' TERM; echo ready > /out/ready; while :; do sleep 0.1; done\"]\n  grace:\n    image: busybox\n    init: true\n    stop_grace_period: 2s\n    command: [\"sh\", \"-c\", \"trap '' TERM; while :; do sleep 0.1; done\"]\n",
    );
    s.ok(&["up", "-d"]);
    eventually("the trap", || s.path().join("out/ready").exists().then_some(()));
    s.ok(&["stop", "sig"]);
    assert_eq!(std::fs::read_to_string(s.path().join("out/sig")).unwrap(), "USR1\n", "{backend}");
    let t = Instant::now();
    s.ok(&["stop", "grace"]);
    let took = t.elapsed();
    // Without the key: 10 s; with it: 2 s, then the kill.
    assert!(took >= Duration::from_millis(1800) && took < Duration::from_secs(8), "{backend}: stop took {took:?}");
}

/// restart, healthcheck (every sub-key but start_interval and timeout) and
/// depends_on.restart: false.
fn restart_and_health_keys(backend: &'static str) {
    let s = Stack::new(
        backend,
        "obslife",
        r#"services:
  flaky:
    image: busybox
    restart: on-failure:2
    volumes: ["./out:/out"]
    command: ["sh", "-c", "echo run >> /out/runs; exit 1"]
  starting:
    image: busybox
    command: sleep 300
    healthcheck:
      test: ["CMD-SHELL", "echo check >> /tmp/checks; test -f /tmp/ok"]
      interval: 1s
      retries: 2
      start_period: 120s
  failing:
    image: busybox
    command: sleep 300
    healthcheck:
      test: ["CMD-SHELL", "echo check >> /tmp/checks; false"]
      interval: 1s
      retries: 5
  checked:
    build: ./hc
    image: obs-hc-image
    command: sleep 300
  unchecked:
    build: ./hc
    image: obs-hc-image
    command: sleep 300
    healthcheck:
      disable: true
    depends_on: [checked]
  dependent:
    image: busybox
    volumes: ["./out:/out"]
    command: ["sh", "-c", "echo start >> /out/starts; sleep 300"]
    depends_on:
      flaky2:
        condition: service_started
        restart: false
  flaky2:
    image: busybox
    command: sleep 300
"#,
    );
    s.write("hc/Dockerfile", "FROM busybox\nHEALTHCHECK --interval=1s CMD true\n");
    s.ok(&["up", "-d", "--build"]);
    let health = |svc: &str| s.ok(&["ps", "-a", "--format", "{{.Health}}", svc]).trim().to_string();
    // on-failure:2: the first run and two restarts, then it stays down.
    eventually("three runs of flaky", || (std::fs::read_to_string(s.path().join("out/runs")).unwrap_or_default().lines().count() >= 3).then_some(()));
    eventually("flaky to stay exited", || (s.ok(&["ps", "-a", "--format", "{{.State}}", "flaky"]).trim() == "exited").then_some(()));
    std::thread::sleep(Duration::from_secs(2)); // no fourth run comes: what is observed is an absence
    assert_eq!(std::fs::read_to_string(s.path().join("out/runs")).unwrap(), "run\nrun\nrun\n", "{backend}");
    // retries: unhealthy after 5 failed checks (not the default 3).
    eventually("failing to be unhealthy", || (health("failing") == "unhealthy").then_some(()));
    let checks = sh(&s, "failing", "wc -l < /tmp/checks").trim().parse::<u32>().unwrap();
    assert!((5..=7).contains(&checks), "{backend}: unhealthy after {checks} checks");
    // start_period: failures inside it do not count; interval: checks every second.
    eventually("three checks of starting", || (sh(&s, "starting", "wc -l < /tmp/checks").trim().parse::<u32>().unwrap() >= 3).then_some(()));
    assert_eq!(health("starting"), "starting", "{backend}");
    sh(&s, "starting", "touch /tmp/ok");
    eventually("starting to be healthy", || (health("starting") == "healthy").then_some(()));
    // The image's check runs; `disable` turns it off.
    eventually("checked to be healthy", || (health("checked") == "healthy").then_some(()));
    assert_eq!(health("unchecked"), "", "{backend}");
    // depends_on restart: false: restarting the dependency leaves the dependent alone.
    s.ok(&["restart", "-t", "1", "flaky2"]);
    assert_eq!(std::fs::read_to_string(s.path().join("out/starts")).unwrap(), "start\n", "{backend}");
}

/// Networks: name, driver, labels, ipam (subnet, gateway, ip_range), internal, external,
/// IPv4/IPv6, and a service's networks (aliases, ipv4_address, priority), network_mode,
/// links and external_links, observed inside the containers and in the engine's records.
fn network_keys(backend: &'static str) {
    // Each backend its own subnet: the two runs may overlap in time.
    let net = if backend == "docker" { "10.213.77" } else { "10.213.78" };
    let s = Stack::new(
        backend,
        "obsnet",
        &format!(
            r#"services:
  a:
    image: busybox
    command: sleep 300
    container_name: obsnet-a-{backend}
    expose: ["7000"]
    networks:
      zfront:
        aliases: [alpha]
        ipv4_address: {net}.10
        priority: 100
      aback:
        priority: 1
  b:
    image: busybox
    command: sleep 300
    networks: [zfront]
    links: ["a:linked"]
  inner:
    image: busybox
    command: sleep 300
    networks: [aback]
  side:
    image: busybox
    command: sleep 300
    network_mode: "service:a"
  hostnet:
    image: busybox
    command: sleep 300
    network_mode: host
  nonet:
    image: busybox
    command: sleep 300
    network_mode: none
networks:
  zfront:
    name: obsnet-front-{backend}
    driver: bridge
    attachable: true
    enable_ipv4: true
    enable_ipv6: false
    labels: {{org.observe.net: front}}
    ipam:
      driver: default
      config:
        - subnet: {net}.0/24
          gateway: {net}.1
          ip_range: {net}.128/25
  aback:
    internal: true
"#
        ),
    );
    s.ok(&["up", "-d"]);
    // priority: zfront first (eth0) though aback sorts first; gateway and fixed address.
    let a = sh(&s, "a", "ip -4 -o addr show eth0 | awk '{print $4}'; ip route | grep ^default; ip -6 addr show scope global | wc -l");
    assert_eq!(a, format!("{net}.10/24\ndefault via {net}.1 dev eth0 \n0\n"), "{backend}");
    // ip_range: dynamic addresses from the upper half; aliases and links resolve.
    let b = sh(&s, "b", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1 | cut -d. -f4; ping -c1 -W2 alpha | head -1; ping -c1 -W2 linked | head -1");
    let mut lines = b.lines();
    let last: u32 = lines.next().unwrap().parse().unwrap();
    assert!(last >= 128, "{backend}: b got .{last}, outside ip_range");
    assert_eq!(lines.collect::<Vec<_>>(), [format!("PING alpha ({net}.10): 56 data bytes"), format!("PING linked ({net}.10): 56 data bytes")], "{backend}");
    // internal: no way out (the host's own gateway answers the other networks).
    let gateway = host_gateway();
    let out = format!("ping -c1 -W2 {gateway} >/dev/null && echo out || echo no-way-out");
    assert_eq!((sh(&s, "inner", &out), sh(&s, "b", &out)), ("no-way-out\n".into(), "out\n".into()), "{backend}");
    // network_mode: another service's namespace, the host's, none.
    assert_eq!(sh(&s, "side", "ip -4 -o addr show eth0 | awk '{print $4}'").trim(), format!("{net}.10/24"), "{backend}");
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(sh(&s, "hostnet", "readlink /proc/self/ns/net").trim(), host_net.to_string_lossy(), "{backend}");
    assert_eq!(sh(&s, "nonet", "ls /sys/class/net | tr '\\n' ' '"), "lo ", "{backend}");
    // The network as the engine keeps it.
    let name = format!("obsnet-front-{backend}");
    let (labels, attachable, internal_back) = if backend == "docker" {
        let front: serde_json::Value = serde_json::from_str(&docker(&["network", "inspect", &name])).unwrap();
        let back: serde_json::Value = serde_json::from_str(&docker(&["network", "inspect", &format!("{}_aback", s.project)])).unwrap();
        assert_eq!(front[0]["Driver"], "bridge");
        (front[0]["Labels"].clone(), front[0]["Attachable"].clone(), back[0]["Internal"].clone())
    } else {
        let read = |n: &str| -> serde_json::Value { serde_json::from_slice(&std::fs::read(state_root().join("networks").join(format!("{n}.json"))).unwrap()).unwrap() };
        let front = read(&name);
        assert_eq!(front["driver"], "bridge");
        (front["labels"].clone(), front["attachable"].clone(), read(&format!("{}_aback", s.project))["internal"].clone())
    };
    assert_eq!(labels["org.observe.net"], "front", "{backend}");
    assert_eq!(attachable, true, "{backend}");
    assert_eq!(internal_back, true, "{backend}");
    if backend == "docker" {
        assert!(record(&s, "a")["Config"]["ExposedPorts"].get("7000/tcp").is_some());
    }
    // Another project joins the network as external (both spellings), and reaches `a`
    // through an external link.
    let other = Stack::new(
        backend,
        "obsnetext",
        &format!(
            "services:\n  c:\n    image: busybox\n    command: sleep 300\n    networks: [outer]\n    external_links: [\"obsnet-a-{backend}:outside\"]\n  d:\n    image: busybox\n    command: sleep 300\n    networks: [legacy]\nnetworks:\n  outer:\n    external: true\n    name: {name}\n  legacy:\n    external:\n      name: {name}\n"
        ),
    );
    other.ok(&["up", "-d"]);
    assert_eq!(sh(&other, "c", "ping -c1 -W2 outside | head -1").trim(), format!("PING outside ({net}.10): 56 data bytes"), "{backend}");
    assert!(sh(&other, "d", "ip -4 -o addr show eth0 | awk '{print $4}'").starts_with(&format!("{net}.")), "{backend}");
    drop(other);
}

/// The host's default gateway: an address outside every container network.
fn host_gateway() -> String {
    let out = Command::new("ip").args(["-4", "route", "show", "default"]).output().expect("iproute2 is needed for this test");
    let routes = String::from_utf8_lossy(&out.stdout);
    routes.split_whitespace().skip_while(|w| *w != "via").nth(1).unwrap_or_else(|| panic!("no default route on the host: {routes}")).to_string()
}

/// dns and dns_search: the resolv.conf of a container on the default bridge (on a user
/// network Docker writes its embedded server there and forwards to these).
fn dns_keys(backend: &'static str) {
    let s = Stack::new(
        backend,
        "obsdns",
        "services:\n  d:\n    image: busybox\n    command: sleep 300\n    network_mode: bridge\n    dns: [10.9.8.7, 10.9.8.6]\n    dns_search: [one.example, two.example]\n",
    );
    s.ok(&["up", "-d"]);
    // Servers in order, then the search line (Docker writes it first, the built-in runtime
    // last; the resolver reads both the same way).
    assert_eq!(sh(&s, "d", "grep ^nameserver /etc/resolv.conf; grep ^search /etc/resolv.conf"), "nameserver 10.9.8.7\nnameserver 10.9.8.6\nsearch one.example two.example\n", "{backend}");
}

/// Published ports: long syntax with host_ip, protocol, mode, published and target.
fn port_keys(backend: &'static str) {
    let (tcp, udp) = if backend == "docker" { (21401u16, 21402u16) } else { (21411, 21412) };
    let s = Stack::new(
        backend,
        "obsports",
        &format!(
            r#"services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo web-ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
      - target: 8080
        published: "{tcp}"
        host_ip: 127.0.0.2
        protocol: tcp
        mode: host
        name: web
        app_protocol: http
      - target: 5353
        published: "{udp}"
        host_ip: 127.0.0.1
        protocol: udp
"#
        ),
    );
    s.ok(&["up", "-d"]);
    let get = |addr: &str| -> Option<String> {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(addr).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
        let mut body = String::new();
        c.read_to_string(&mut body).ok()?;
        body.contains("web-ok").then_some(body)
    };
    eventually("the page on 127.0.0.2", || get(&format!("127.0.0.2:{tcp}")));
    // host_ip: the port is not published on another address.
    assert!(std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err(), "{backend}: published on 127.0.0.1 too");
    // protocol udp: the host's UDP port is held for the container (busybox has no UDP
    // server to answer through it), its TCP port is not.
    let held = std::net::UdpSocket::bind(("127.0.0.1", udp)).map_err(|e| e.kind());
    assert_eq!(held.err(), Some(std::io::ErrorKind::AddrInUse), "{backend}: UDP {udp} is not published");
    assert!(std::net::TcpStream::connect(("127.0.0.1", udp)).is_err(), "{backend}: TCP {udp} is published");
}

/// Volumes (short and long syntax, bind, named, tmpfs, external), volumes_from, and
/// configs and secrets with target, uid, gid and mode.
fn volume_keys(backend: &'static str) {
    let seed = Stack::new(backend, "obsvolseed", &format!("services:\n  s:\n    image: busybox\n    command: sh -c 'echo seeded > /v/seed'\n    volumes: [\"x:/v\"]\nvolumes:\n  x:\n    name: obsvol-ext-{backend}\n"));
    seed.ok(&["up"]);
    seed.ok(&["rm", "-f"]);
    let s = Stack::new(
        backend,
        "obsvol",
        &format!(
            r#"services:
  v:
    image: busybox
    command: sleep 300
    volumes:
      - ./bind:/bind
      - ./ro:/ro:ro
      - data:/data
      - ext:/ext
      - ext2:/ext2
      - type: bind
        source: ./made/here
        target: /made
        consistency: cached
        bind:
          create_host_path: true
      - type: volume
        source: data
        target: /data-ro
        read_only: true
      - type: tmpfs
        target: /scratch
        tmpfs:
          size: 2097152
          mode: 01770
    configs:
      - source: conf
        target: /etc/conf.txt
        uid: "1000"
        gid: "1001"
        mode: 0440
      - fileconf
      - envconf
    secrets:
      - source: tok
        target: tok-renamed
        uid: "1000"
        gid: "1001"
        mode: 0400
      - fsec
  u:
    image: busybox
    command: sleep 300
    volumes: [data:/data, ./bind:/bind]
  w:
    image: busybox
    command: sleep 300
    volumes_from: ["u:ro"]
volumes:
  data:
    name: obsvol-data-{backend}
    driver: local
    labels: {{org.observe.vol: data}}
  ext:
    external: true
    name: obsvol-ext-{backend}
  ext2:
    external:
      name: obsvol-ext-{backend}
configs:
  conf:
    content: conf-content
  fileconf:
    file: ./fileconf.txt
    external: false
  envconf:
    environment: OBS_CONF
secrets:
  tok:
    environment: OBS_TOKEN
    external: false
  fsec:
    file: ./fsec.txt
"#
        ),
    );
    std::fs::create_dir_all(s.path().join("bind")).unwrap();
    s.write("ro/f", "read-only\n");
    s.write("fileconf.txt", "file-conf\n");
    s.write("fsec.txt", "file-secret\n");
    s.set_env("OBS_CONF", "env-conf");
    s.set_env("OBS_TOKEN", "env-token");
    s.ok(&["up", "-d"]);
    let v = sh(
        &s,
        "v",
        "echo b > /bind/f; touch /ro/x 2>/dev/null && echo ro-writable || echo ro-refused; cat /ro/f; echo d > /data/f; cat /data-ro/f; \
         touch /data-ro/y 2>/dev/null && echo data-ro-writable || echo data-ro-refused; cat /ext/seed /ext2/seed; touch /made/m; \
         stat -c '%a' /scratch; df -k /scratch | tail -1 | awk '{print $2}'; \
         stat -c '%u %g %a' /etc/conf.txt; cat /etc/conf.txt; echo; cat /fileconf /envconf; echo; \
         stat -c '%u %g %a' /run/secrets/tok-renamed; cat /run/secrets/tok-renamed; echo; cat /run/secrets/fsec",
    );
    assert_eq!(
        v,
        "ro-refused\nread-only\nd\ndata-ro-refused\nseeded\nseeded\n1770\n2048\n1000 1001 440\nconf-content\nfile-conf\nenv-conf\n1000 1001 400\nenv-token\nfile-secret\n",
        "{backend}"
    );
    assert_eq!(std::fs::read_to_string(s.path().join("bind/f")).unwrap(), "b\n", "{backend}");
    assert!(s.path().join("made/here/m").exists(), "{backend}");
    // volumes_from u:ro: u's volumes (v's data), read-only. (Not from v: Docker's engine
    // refuses volumes_from a container with a tmpfs mount, "get: no such volume".)
    assert_eq!(sh(&s, "w", "cat /data/f /bind/f; touch /data/z 2>/dev/null && echo writable || echo refused"), "d\nb\nrefused\n", "{backend}");
    // The named volume's name, driver and labels, as the engine keeps them.
    let vols: serde_json::Value = serde_json::from_str(&s.ok(&["volume", "inspect", &format!("obsvol-data-{backend}")])).unwrap();
    assert_eq!(vols[0]["labels"]["org.observe.vol"], "data", "{backend}: {vols}");
    assert_eq!(vols[0]["driver"], "local", "{backend}: {vols}");
    drop(s);
    drop(seed);
}

/// build: context, dockerfile, dockerfile_inline, args, target, labels, tags, no_cache,
/// pull; and pull_policy.
fn build_keys(backend: &'static str) {
    let local = format!("obs-local-only-{backend}:1");
    tag_busybox(backend, &local);
    let s = Stack::new(
        backend,
        "obsbuild",
        &format!(
            r#"services:
  built:
    image: obs-built-{backend}:1
    command: sleep 300
    build:
      context: ./ctx
      dockerfile: Custom.df
      args: {{GREETING: hello-arg}}
      target: base
      labels: {{org.observe.build: "yes"}}
      tags: ["obs-built-extra-{backend}:1"]
      no_cache: true
  inline:
    image: obs-inline-{backend}:1
    command: sleep 300
    build:
      context: ./ctx
      dockerfile_inline: "FROM {local}\nRUN echo inline > /inline\n"
"#
        ),
    );
    s.write("ctx/Custom.df", &format!("FROM {local} AS base\nARG GREETING=unset\nRUN echo \"$GREETING\" > /greeting; cat /proc/sys/kernel/random/uuid > /stamp\nFROM base AS final\nRUN echo final > /final\n"));
    s.ok(&["up", "-d"]);
    assert_eq!(sh(&s, "built", "cat /greeting; test -e /final && echo final || echo no-final"), "hello-arg\nno-final\n", "{backend}");
    assert_eq!(sh(&s, "inline", "cat /inline"), "inline\n", "{backend}");
    let inspect: serde_json::Value = serde_json::from_str(&s.ok(&["image", "inspect", &format!("obs-built-{backend}:1")])).unwrap();
    assert_eq!(inspect[0]["Config"]["labels"]["org.observe.build"], "yes", "{backend}: {inspect}");
    let images = s.ok(&["image", "ls"]);
    assert!(images.contains(&format!("obs-built-extra-{backend}")), "{backend}: {images}");
    // no_cache: a second build runs its steps again.
    let stamp = sh(&s, "built", "cat /stamp");
    s.ok(&["build", "built"]);
    s.ok(&["up", "-d", "--force-recreate", "built"]);
    assert_ne!(sh(&s, "built", "cat /stamp"), stamp, "{backend}: no_cache built from the cache");
    s.ok(&["down", "-t", "0"]);
    // pull: the base is looked for in a registry, where this local-only image is not.
    s.write(
        "docker-compose.yml",
        &format!("services:\n  pulled:\n    image: obs-pulled-{backend}:1\n    build:\n      context: ./ctx\n      dockerfile: Custom.df\n      pull: true\n"),
    );
    // Both look for the base in its registry. Docker fails when it is not there; the
    // built-in runtime says so and builds from the local image.
    let out = s.hoist(&["build"]);
    if backend == "docker" {
        assert!(!out.status.success(), "{backend}: pull: true built from the local-only {local}: {}", text(&out));
    } else {
        assert!(text(&out).contains(&format!("could not pull {local}")), "{backend}: pull: true did not look for {local}: {}", text(&out));
    }
    s.write("docker-compose.yml", &format!("services:\n  pulled:\n    image: obs-pulled-{backend}:1\n    build:\n      context: ./ctx\n      dockerfile: Custom.df\n      pull: false\n"));
    s.ok(&["build"]);
    // pull_policy: `always` looks for the local-only image in a registry; `missing` and
    // `never` run it as it is.
    for (policy, runs) in [("always", false), ("missing", true), ("never", true)] {
        s.write("docker-compose.yml", &format!("services:\n  p:\n    image: {local}\n    pull_policy: {policy}\n    command: sleep 300\n"));
        let out = s.hoist(&["up", "-d"]);
        assert_eq!(out.status.success(), runs, "{backend}: pull_policy {policy}: {}", text(&out));
        s.ok(&["down", "-t", "0"]);
    }
    for image in [format!("obs-built-{backend}:1"), format!("obs-built-extra-{backend}:1"), format!("obs-inline-{backend}:1"), format!("obs-pulled-{backend}:1"), local] {
        let _ = Command::new(HOIST).args(["--backend", backend, "image", "rm", "-f", &image]).output();
    }
}

/// Keys whose effect is the loaded project (name, version, include, extends, profiles,
/// the metadata of ports, configs and secrets), seen in what runs; and scale,
/// deploy.replicas and deploy.mode.
fn model_keys(backend: &'static str) {
    common::ensure_busybox(backend);
    let dir = tempfile::tempdir().unwrap();
    let name = format!("obsmodel{backend}");
    let write = |rel: &str, content: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    };
    write(
        "compose.yaml",
        &format!(
            r#"version: "3.9"
name: {name}
include:
  - path: ./inc/compose.yaml
    project_directory: ./inc
    env_file: ./inc.env # relative to project_directory
x-base: &base
  image: busybox
  command: sleep 300
services:
  ext:
    extends:
      file: ./base.yaml
      service: basesvc
    command: sleep 300
  off:
    <<: *base
    profiles: [never]
  many:
    <<: *base
    scale: 2
  rep:
    <<: *base
    deploy:
      mode: replicated
      replicas: 3
  meta:
    <<: *base
    ports:
      - target: 80
        name: web
        app_protocol: http
    configs: [c]
    secrets: [s]
configs:
  c:
    content: x
    name: obs-config-name
secrets:
  s:
    file: ./s.txt
    name: obs-secret-name
"#
        ),
    );
    write("s.txt", "s\n");
    write("base.yaml", "services:\n  basesvc:\n    image: busybox\n    environment:\n      FROM_BASE: base-value\n");
    write("inc/compose.yaml", "services:\n  incl:\n    image: busybox\n    command: sleep 300\n    environment:\n      INC: ${INC_VAR}\n    volumes: [\"./here:/here\"]\n");
    write("inc/inc.env", "INC_VAR=from-inc-env\n");
    let hoist = |args: &[&str]| -> Output { Command::new(HOIST).args(["--backend", backend]).args(args).current_dir(dir.path()).env_remove("DOCKER_HOST").output().unwrap() };
    struct Down<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down", "-v", "-t", "1"]);
        }
    }
    let _ = hoist(&["down", "-v", "-t", "1"]);
    let _down = Down(&hoist);
    let up = hoist(&["up", "-d"]);
    assert!(up.status.success(), "{backend}: {}", text(&up));
    // name names the containers; include and extends bring their services; a profile
    // that is not enabled keeps its service out; scale and replicas count.
    let ps = hoist(&["ps", "--format", "{{.Name}}"]);
    let mut names: Vec<String> = String::from_utf8_lossy(&ps.stdout).lines().map(String::from).collect();
    names.sort();
    let want: Vec<String> = ["ext-1", "incl-1", "many-1", "many-2", "meta-1", "rep-1", "rep-2", "rep-3"].iter().map(|n| format!("{name}-{n}")).collect();
    assert_eq!(names, want, "{backend}");
    let exec = |svc: &str, script: &str| {
        let out = hoist(&["exec", "-T", svc, "sh", "-c", script]);
        assert!(out.status.success(), "{backend}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(exec("ext", "echo $FROM_BASE"), "base-value\n", "{backend}");
    assert_eq!(exec("incl", "echo $INC; echo x > /here/f"), "from-inc-env\n", "{backend}");
    assert!(dir.path().join("inc/here/f").exists(), "{backend}: include's project_directory is not where ./here is");
    // The metadata keys are kept in the model, as Docker Compose keeps them.
    let config = String::from_utf8_lossy(&hoist(&["config"]).stdout).into_owned();
    for want in ["name: web", "app_protocol: http", "name: obs-config-name", "name: obs-secret-name"] {
        assert!(config.contains(want), "{backend}: no {want:?} in\n{config}");
    }
    assert_eq!(exec("meta", "cat /c /run/secrets/s"), "xs\n", "{backend}");
}

/// Legacy v1 keys: `net` and `dockerfile`.
fn legacy_keys(backend: &'static str) {
    let s = Stack::new(backend, "obslegacy", "web:\n  image: busybox\n  command: sleep 300\n  net: none\nbuilt:\n  build: ./ctx\n  dockerfile: Custom.df\n  command: sleep 300\n");
    s.write("ctx/Custom.df", "FROM busybox\nRUN echo from-custom > /marker\n");
    s.ok(&["up", "-d", "--build"]);
    assert_eq!(sh(&s, "web", "ls /sys/class/net | tr '\\n' ' '"), "lo ", "{backend}");
    assert_eq!(sh(&s, "built", "cat /marker"), "from-custom\n", "{backend}");
}

/// develop.watch: `include`, and `sync+exec` with every exec key.
fn watch_exec_keys(backend: &'static str) {
    let exec = |dir: &str, privileged: bool| {
        format!(
            "        - path: ./{dir}\n          target: /{dir}\n          action: sync+exec\n          include: ['*.txt']\n          exec:\n            command: sh -c 'echo \"$$WHO $$(id -u) $$(pwd) $$(grep CapBnd /proc/self/status | cut -f2)\" > /tmp/out/{dir}'\n            environment: {{WHO: watcher}}\n            user: \"65534\"\n            working_dir: /{dir}\n            privileged: {privileged}\n"
        )
    };
    let s = Stack::new(
        backend,
        "obswatch",
        &format!(
            "services:\n  app:\n    image: busybox\n    init: true\n    command: sh -c 'mkdir -m 777 /tmp/out; exec sleep 300'\n    develop:\n      watch:\n{}{}",
            exec("plain", false),
            exec("priv", true)
        ),
    );
    std::fs::create_dir_all(s.path().join("plain")).unwrap();
    std::fs::create_dir_all(s.path().join("priv")).unwrap();
    s.ok(&["up", "-d"]);
    let log = s.path().join("watch.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = s.command(&["watch", "--no-up"]).stdin(std::process::Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _watch = Kill(child);
    eventually("watch to start", || std::fs::read_to_string(&log).unwrap().contains("Watch enabled").then_some(()));
    s.write("plain/skipped.log", "no\n");
    s.write("plain/a.txt", "synced\n");
    let ran = eventually("the exec to run", || s.cat("app", "/tmp/out/plain"));
    assert_eq!(ran, "watcher 65534 /plain 00000000a80425fb\n", "{backend}");
    assert_eq!(s.cat("app", "/plain/a.txt").as_deref(), Some("synced\n"), "{backend}");
    assert_eq!(s.cat("app", "/plain/skipped.log"), None, "{backend}: include let a .log file in");
    // privileged: every capability the kernel has in the bounding set.
    let privileged = s.hoist(&["exec", "-T", "--privileged", "app", "true"]);
    if backend == "docker" && text(&privileged).contains("unable to apply caps") {
        eprintln!("Docker cannot run a privileged process here; `exec.privileged` is observed on the built-in runtime only");
        return;
    }
    s.write("priv/a.txt", "synced\n");
    let ran = eventually("the privileged exec to run", || s.cat("app", "/tmp/out/priv"));
    let all = std::fs::read_to_string("/proc/self/status").unwrap().lines().find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_string())).unwrap();
    assert_eq!(ran, format!("watcher 65534 /priv {all}\n"), "{backend}: {}", std::fs::read_to_string(&log).unwrap());
}

/// File modes written as YAML octal (`0o400`) mean what they say, as in Docker Compose
/// (yaml.v3 reads `0o400` as 256): for a config and a tmpfs mount.
fn octal_modes(backend: &'static str) {
    let s = Stack::new(
        backend,
        "obsmodes",
        "services:\n  m:\n    image: busybox\n    command: sleep 300\n    volumes:\n      - type: tmpfs\n        target: /scratch\n        tmpfs:\n          mode: 0o1770\n    configs:\n      - source: c\n        mode: 0o400\n    secrets:\n      - source: s\n        mode: 0o400\nconfigs:\n  c:\n    content: c\nsecrets:\n  s:\n    file: ./s.txt\n",
    );
    s.write("s.txt", "s\n");
    // A `file:` secret is bind-mounted as it is (0644 here), with Compose's warning.
    std::fs::set_permissions(s.path().join("s.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = s.hoist(&["up", "-d"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("services.m.secrets: s is a file, bind-mounted as it is: `uid`, `gid` and `mode` are not supported"), "{}", text(&out));
    assert_eq!(sh(&s, "m", "stat -c '%a' /scratch /c /run/secrets/s"), "1770\n400\n644\n", "{backend}");
}

/// healthcheck.timeout: a 5 s check with a 1 s timeout fails; the container still stops.
fn healthcheck_timeout(backend: &'static str) {
    let s = Stack::new(
        backend,
        "obshealthto",
        "services:\n  slow:\n    image: busybox\n    command: sleep 300\n    healthcheck:\n      test: [\"CMD\", \"sleep\", \"5\"]\n      interval: 1s\n      timeout: 1s\n      retries: 1\n",
    );
    s.ok(&["up", "-d"]);
    eventually("slow to be unhealthy", || (s.ok(&["ps", "--format", "{{.Health}}", "slow"]).trim() == "unhealthy").then_some(()));
    let out = s.hoist(&["stop", "-t", "1", "slow"]);
    assert!(out.status.success(), "{backend}: a container whose check timed out does not stop: {}", text(&out));
}

on_both_backends!(process_keys, resource_keys, stop_keys, restart_and_health_keys, network_keys, dns_keys, port_keys, volume_keys, build_keys, model_keys, legacy_keys, watch_exec_keys, octal_modes, healthcheck_timeout);
