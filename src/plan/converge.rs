//! Convergence, the pure middle step of observe → plan → execute: from what exists and
//! what the model wants, the list of actions per service. No engine is touched here.

use crate::backend::{ContainerState, ContainerSummary};

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

/// Plans one service: `existing` are its containers (one-off ones excluded by the caller or here).
pub fn plan_service(existing: &[ContainerSummary], replicas: u32, hash: &str, recreate: Recreate) -> Vec<Action> {
    let mut current: Vec<&ContainerSummary> = existing.iter().filter(|c| !c.oneoff).collect();
    current.sort_by_key(|c| c.number);
    let mut actions = Vec::new();

    // Scale down: the highest numbers go first.
    let keep = current.len().min(replicas as usize);
    for c in current.drain(keep..).rev() {
        actions.push(Action::Remove { container: c.clone() });
    }
    for c in &current {
        let diverged = c.config_hash != hash;
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
        assert_eq!(plan_service(&[], 2, "h", Recreate::Diverged), vec![Action::Create { number: 1 }, Action::Create { number: 2 }]);
    }

    #[test]
    fn leaves_unchanged_alone_and_starts_stopped() {
        let existing = [c(1, "h", ContainerState::Running), c(2, "h", ContainerState::Exited)];
        let plan = plan_service(&existing, 2, "h", Recreate::Diverged);
        assert!(matches!(plan[0], Action::Keep { .. }));
        assert!(matches!(plan[1], Action::Start { .. }));
    }

    #[test]
    fn recreates_diverged_unless_told_not_to() {
        let existing = [c(1, "old", ContainerState::Running)];
        assert!(matches!(plan_service(&existing, 1, "new", Recreate::Diverged)[0], Action::Recreate { .. }));
        assert!(matches!(plan_service(&existing, 1, "new", Recreate::Never)[0], Action::Keep { .. }));
        let same = [c(1, "h", ContainerState::Running)];
        assert!(matches!(plan_service(&same, 1, "h", Recreate::Force)[0], Action::Recreate { .. }));
    }

    #[test]
    fn scales_down_highest_first_and_up_from_max() {
        let existing = [c(1, "h", ContainerState::Running), c(2, "h", ContainerState::Running), c(3, "h", ContainerState::Running)];
        let plan = plan_service(&existing, 1, "h", Recreate::Diverged);
        let removed: Vec<u32> = plan.iter().filter(|a| matches!(a, Action::Remove { .. })).map(Action::number).collect();
        assert_eq!(removed, vec![3, 2]);
        let gap = [c(1, "h", ContainerState::Running), c(3, "h", ContainerState::Running)];
        let plan = plan_service(&gap, 3, "h", Recreate::Diverged);
        assert_eq!(plan.last(), Some(&Action::Create { number: 4 }));
    }
}
