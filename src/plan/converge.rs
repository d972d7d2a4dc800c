//! Convergence, the pure middle step of observe → plan → execute: from what exists and
//! what the model wants, the list of actions per service. No engine is touched here.

use crate::backend::{labels, ContainerState, ContainerSummary, Health};
use crate::compose::model::DependsCondition;

/// How `up` (and `create`, `start`, `scale`) may change existing containers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Recreate {
    /// Recreate when the config hash changed (the default).
    #[default]
    Diverged,
    Force,
    Never,
}

/// One thing to do to one container.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create container `number` (and start it unless the plan is create-only).
    Create { number: u32 },
    /// Replace `old` by a new container with the same number, keeping its anonymous volumes.
    Recreate { old: ContainerSummary },
    /// Start an existing stopped container.
    Start { container: ContainerSummary },
    /// Already as wanted.
    Keep { container: ContainerSummary },
    /// Scale-down or orphan: stop and remove.
    Remove { container: ContainerSummary },
}

impl Action {
    pub fn number(&self) -> u32 {
        match self {
            Action::Create { number } => *number,
            Action::Recreate { old: c } | Action::Start { container: c } | Action::Keep { container: c } | Action::Remove { container: c } => c.number,
        }
    }
}

/// Plans one service: `existing` are its containers (one-off ones excluded by the caller
/// or here); `image_id` is the ID the service's image reference resolves to now (empty
/// when unknown).
pub fn plan_service(existing: &[ContainerSummary], replicas: u32, hash: &str, image_id: &str, recreate: Recreate) -> Vec<Action> {
    let mut current: Vec<&ContainerSummary> = existing.iter().filter(|c| !c.oneoff).collect();
    current.sort_by_key(|c| c.number);
    let mut actions = Vec::new();

    // Scale down: the highest numbers go first.
    let keep = current.len().min(replicas as usize);
    for c in current.drain(keep..).rev() {
        actions.push(Action::Remove { container: c.clone() });
    }
    for c in &current {
        let diverged = c.config_hash != hash || runs_other_image(c, image_id);
        let action = match recreate {
            Recreate::Force => Action::Recreate { old: (*c).clone() },
            Recreate::Diverged if diverged => Action::Recreate { old: (*c).clone() },
            _ if c.state.is_running() => Action::Keep { container: (*c).clone() },
            _ => Action::Start { container: (*c).clone() },
        };
        actions.push(action);
    }
    // Scale up: new containers get max + 1, max + 2, ...
    let first = current.iter().map(|c| c.number).max().unwrap_or(0) + 1;
    let missing = (replicas as usize).saturating_sub(current.len()) as u32;
    actions.extend((first..first + missing).map(|number| Action::Create { number }));
    actions
}

/// Whether `c` was created from another image than the one its reference names now (a
/// rebuild, a pull), as Docker Compose judges it by the image ID in the container's
/// `com.docker.compose.image` label. Containers without an ID there (made by an older
/// hoist, which wrote the reference) are not recreated for it.
fn runs_other_image(c: &ContainerSummary, image_id: &str) -> bool {
    let recorded = c.labels.get(labels::IMAGE).map_or("", String::as_str);
    !image_id.is_empty() && recorded.starts_with("sha256:") && recorded != image_id
}

/// Where a service stands against what its dependents (or `up --wait`) wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet, and nothing says it never will be.
    Pending,
    /// It never will be, and why (Docker Compose's words).
    Failed(String),
}

/// How the containers of one service stand against `cond`, as Docker Compose judges it:
/// for `service_healthy` a container that has exited or is restarting (crash-looping
/// under a restart policy) or is unhealthy fails the wait, as does one without a
/// healthcheck unless `running_will_do` (`up --wait`: running is enough without one);
/// for `service_completed_successfully` a non-zero exit fails it.
pub fn readiness(containers: &[ContainerSummary], cond: DependsCondition, running_will_do: bool) -> Readiness {
    let mut ready = true;
    for c in containers {
        let code = c.exit_code.unwrap_or(-1);
        let verdict = match cond {
            DependsCondition::ServiceStarted => Readiness::Ready,
            DependsCondition::ServiceHealthy => match (c.state, c.health) {
                (ContainerState::Exited | ContainerState::Dead, _) => Readiness::Failed(format!("container {} exited ({code})", c.name)),
                (ContainerState::Restarting, _) => Readiness::Failed(format!("container {} exited ({code}) and is restarting", c.name)),
                (ContainerState::Created, _) => Readiness::Pending,
                (_, Some(Health::Healthy)) => Readiness::Ready,
                (_, Some(Health::Unhealthy)) => Readiness::Failed(format!("container {} is unhealthy", c.name)),
                (_, Some(Health::Starting)) => Readiness::Pending,
                (ContainerState::Running, None) if running_will_do => Readiness::Ready,
                (_, None) if running_will_do => Readiness::Pending,
                (_, None) => Readiness::Failed(format!("container {} has no healthcheck configured", c.name)),
            },
            DependsCondition::ServiceCompletedSuccessfully => match c.state {
                ContainerState::Exited | ContainerState::Dead | ContainerState::Restarting if code != 0 => {
                    Readiness::Failed(format!("service {:?} didn't complete successfully: exit {code}", c.service))
                }
                ContainerState::Exited | ContainerState::Dead => Readiness::Ready,
                _ => Readiness::Pending,
            },
        };
        match verdict {
            Readiness::Failed(_) => return verdict,
            Readiness::Pending => ready = false,
            Readiness::Ready => {}
        }
    }
    if ready { Readiness::Ready } else { Readiness::Pending }
}

/// Docker Compose's warning for an optional dependency (`required: false`) that failed
/// its condition (`why`, as `readiness` words it): the dependent starts anyway.
pub fn optional_dependency_warning(dep: &str, cond: DependsCondition, why: &str) -> String {
    match cond {
        // `service "db" didn't complete successfully: exit 1` → `optional dependency "db" …`.
        DependsCondition::ServiceCompletedSuccessfully => format!("optional dependency {}", why.strip_prefix("service ").unwrap_or(why)),
        _ => format!("optional dependency {dep:?} failed to start: {why}"),
    }
}

/// Project containers whose service is not in the model any more.
pub fn orphans<'a>(observed: &'a [ContainerSummary], services: &[&str]) -> Vec<&'a ContainerSummary> {
    observed.iter().filter(|c| !c.oneoff && !services.contains(&c.service.as_str())).collect()
}

/// True when the container counts as running for `ps` without `-a`.
pub fn is_up(c: &ContainerSummary) -> bool {
    c.state != ContainerState::Exited && c.state != ContainerState::Created && c.state != ContainerState::Dead
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ContainerState;

    fn c(number: u32, hash: &str, state: ContainerState) -> ContainerSummary {
        ContainerSummary { config_hash: hash.into(), state, ..ContainerSummary::for_test("p", "web", number) }
    }

    #[test]
    fn creates_from_nothing() {
        assert_eq!(plan_service(&[], 2, "h", "", Recreate::Diverged), vec![Action::Create { number: 1 }, Action::Create { number: 2 }]);
    }

    #[test]
    fn leaves_unchanged_alone_and_starts_stopped() {
        let existing = [c(1, "h", ContainerState::Running), c(2, "h", ContainerState::Exited)];
        let plan = plan_service(&existing, 2, "h", "", Recreate::Diverged);
        assert!(matches!(plan[0], Action::Keep { .. }));
        assert!(matches!(plan[1], Action::Start { .. }));
    }

    #[test]
    fn recreates_diverged_unless_told_not_to() {
        let existing = [c(1, "old", ContainerState::Running)];
        assert!(matches!(plan_service(&existing, 1, "new", "", Recreate::Diverged)[0], Action::Recreate { .. }));
        assert!(matches!(plan_service(&existing, 1, "new", "", Recreate::Never)[0], Action::Keep { .. }));
        let same = [c(1, "h", ContainerState::Running)];
        assert!(matches!(plan_service(&same, 1, "h", "", Recreate::Force)[0], Action::Recreate { .. }));
    }

    #[test]
    fn recreates_exactly_the_containers_of_a_changed_image() {
        let mut old = c(1, "h", ContainerState::Running);
        old.labels.insert(labels::IMAGE.into(), "sha256:old".into());
        assert!(matches!(plan_service(&[old.clone()], 1, "h", "sha256:new", Recreate::Diverged)[0], Action::Recreate { .. }));
        assert!(matches!(plan_service(&[old.clone()], 1, "h", "sha256:old", Recreate::Diverged)[0], Action::Keep { .. }));
        assert!(matches!(plan_service(&[old], 1, "h", "sha256:new", Recreate::Never)[0], Action::Keep { .. }));
        // An older hoist wrote the reference there: no ID to compare, no recreation.
        let mut legacy = c(1, "h", ContainerState::Running);
        legacy.labels.insert(labels::IMAGE.into(), "busybox:latest".into());
        assert!(matches!(plan_service(&[legacy], 1, "h", "sha256:new", Recreate::Diverged)[0], Action::Keep { .. }));
    }

    #[test]
    fn readiness_fails_fast_with_the_reason() {
        use crate::backend::Health;
        let with = |state, health, code| ContainerSummary { state, health, exit_code: code, ..c(1, "h", state) };
        let healthy = DependsCondition::ServiceHealthy;
        assert_eq!(readiness(&[with(ContainerState::Running, Some(Health::Healthy), None)], healthy, false), Readiness::Ready);
        assert_eq!(readiness(&[with(ContainerState::Running, Some(Health::Starting), None)], healthy, false), Readiness::Pending);
        assert_eq!(readiness(&[with(ContainerState::Running, Some(Health::Unhealthy), None)], healthy, false), Readiness::Failed("container p-web-1 is unhealthy".into()));
        assert_eq!(
            readiness(&[with(ContainerState::Restarting, Some(Health::Starting), Some(1))], healthy, false),
            Readiness::Failed("container p-web-1 exited (1) and is restarting".into())
        );
        assert_eq!(readiness(&[with(ContainerState::Exited, None, Some(2))], healthy, true), Readiness::Failed("container p-web-1 exited (2)".into()));
        assert_eq!(readiness(&[with(ContainerState::Running, None, None)], healthy, true), Readiness::Ready);
        assert_eq!(readiness(&[with(ContainerState::Running, None, None)], healthy, false), Readiness::Failed("container p-web-1 has no healthcheck configured".into()));
        let done = DependsCondition::ServiceCompletedSuccessfully;
        assert_eq!(readiness(&[with(ContainerState::Exited, None, Some(0))], done, false), Readiness::Ready);
        assert_eq!(readiness(&[with(ContainerState::Exited, None, Some(3))], done, false), Readiness::Failed("service \"web\" didn't complete successfully: exit 3".into()));
        assert_eq!(readiness(&[with(ContainerState::Running, None, None)], done, false), Readiness::Pending);
    }

    #[test]
    fn scales_down_highest_first_and_up_from_max() {
        let existing = [c(1, "h", ContainerState::Running), c(2, "h", ContainerState::Running), c(3, "h", ContainerState::Running)];
        let plan = plan_service(&existing, 1, "h", "", Recreate::Diverged);
        let removed: Vec<u32> = plan.iter().filter(|a| matches!(a, Action::Remove { .. })).map(Action::number).collect();
        assert_eq!(removed, vec![3, 2]);
        let gap = [c(1, "h", ContainerState::Running), c(3, "h", ContainerState::Running)];
        let plan = plan_service(&gap, 3, "h", "", Recreate::Diverged);
        assert_eq!(plan.last(), Some(&Action::Create { number: 4 }));
    }
}
