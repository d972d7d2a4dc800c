//! The service dependency graph: who must start before whom. The only place that walks
//! dependencies; everything else asks it for an order or for a service's prerequisites.

use std::collections::{BTreeSet, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::compose::model::{DependsCondition, Project, Service, VolumesFromSource};

/// Why one service depends on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    DependsOn(DependsCondition),
    Link,
    VolumesFrom,
    Namespace,
}

impl EdgeKind {
    /// The condition the dependent waits for.
    pub fn condition(self) -> DependsCondition {
        match self {
            EdgeKind::DependsOn(c) => c,
            _ => DependsCondition::ServiceStarted,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("dependency cycle: {0}")]
    Cycle(String),
    #[error("service {from:?} depends on undefined service {to:?}")]
    Missing { from: String, to: String },
}

/// Dependencies between the services of a project (edges point from a service to the
/// service it needs).
pub struct Graph {
    graph: DiGraph<String, EdgeKind>,
    index: HashMap<String, NodeIndex>,
}

/// Every service a service needs, with the kind of need.
pub fn service_dependencies(service: &Service) -> Vec<(String, EdgeKind)> {
    let mut deps = Vec::new();
    for (name, d) in &service.depends_on {
        deps.push((name.clone(), EdgeKind::DependsOn(d.condition)));
    }
    for link in &service.links {
        deps.push((link.target.clone(), EdgeKind::Link));
    }
    for vf in &service.volumes_from {
        if let VolumesFromSource::Service(s) = &vf.source {
            deps.push((s.clone(), EdgeKind::VolumesFrom));
        }
    }
    let namespaces = [&service.pid, &service.ipc].into_iter().flatten().filter_map(|m| m.service());
    for s in namespaces.chain(service.network_mode.as_ref().and_then(|m| m.service())) {
        deps.push((s.to_string(), EdgeKind::Namespace));
    }
    deps
}

impl Graph {
    pub fn new(project: &Project) -> Result<Graph, GraphError> {
        let mut graph = DiGraph::new();
        let mut index = HashMap::new();
        for name in project.services.keys() {
            index.insert(name.clone(), graph.add_node(name.clone()));
        }
        for (name, service) in &project.services {
            for (dep, kind) in service_dependencies(service) {
                let Some(&to) = index.get(&dep) else {
                    // A `required: false` depends_on on an absent service is fine.
                    if service.depends_on.get(&dep).is_some_and(|d| !d.required) {
                        continue;
                    }
                    return Err(GraphError::Missing { from: name.clone(), to: dep });
                };
                graph.update_edge(index[name], to, kind);
            }
        }
        let g = Graph { graph, index };
        g.check_cycles()?;
        Ok(g)
    }

    fn check_cycles(&self) -> Result<(), GraphError> {
        for scc in tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() > 1 || self_loop {
                // Walk the cycle from its first node to print it in order.
                let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
                let start = *members.iter().next().unwrap_or(&scc[0]);
                let mut path = vec![self.graph[start].clone()];
                let mut cur = start;
                loop {
                    let next = self
                        .graph
                        .neighbors_directed(cur, Direction::Outgoing)
                        .filter(|n| members.contains(n))
                        .min()
                        .unwrap_or(start);
                    path.push(self.graph[next].clone());
                    if next == start || path.len() > members.len() + 1 {
                        break;
                    }
                    cur = next;
                }
                return Err(GraphError::Cycle(path.join(" -> ")));
            }
        }
        Ok(())
    }

    /// Direct prerequisites of `service`, with the condition to wait for.
    pub fn dependencies(&self, service: &str) -> Vec<(String, EdgeKind)> {
        let Some(&i) = self.index.get(service) else { return vec![] };
        let mut out: Vec<_> = self
            .graph
            .edges_directed(i, Direction::Outgoing)
            .map(|e| (self.graph[petgraph::visit::EdgeRef::target(&e)].clone(), *e.weight()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Services that directly need `service`.
    pub fn dependents(&self, service: &str) -> Vec<String> {
        let Some(&i) = self.index.get(service) else { return vec![] };
        let mut out: Vec<_> =
            self.graph.neighbors_directed(i, Direction::Incoming).map(|n| self.graph[n].clone()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// `services` plus everything they need, transitively.
    pub fn with_dependencies(&self, services: &[String]) -> BTreeSet<String> {
        self.closure(services, Direction::Outgoing)
    }

    /// `services` plus everything that needs them, transitively.
    pub fn with_dependents(&self, services: &[String]) -> BTreeSet<String> {
        self.closure(services, Direction::Incoming)
    }

    fn closure(&self, services: &[String], dir: Direction) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = services.iter().filter_map(|s| self.index.get(s).copied()).collect();
        while let Some(n) = stack.pop() {
            if seen.insert(self.graph[n].clone()) {
                stack.extend(self.graph.neighbors_directed(n, dir));
            }
        }
        seen
    }

    /// Start order: every service after its prerequisites (stable: file order among peers).
    pub fn start_order(&self) -> Vec<String> {
        let mut order = Vec::new();
        let mut done = BTreeSet::new();
        let names: Vec<NodeIndex> = self.graph.node_indices().collect();
        while order.len() < names.len() {
            let before = order.len();
            for &n in &names {
                if done.contains(&n) {
                    continue;
                }
                if self.graph.neighbors_directed(n, Direction::Outgoing).all(|d| done.contains(&d) || d == n) {
                    done.insert(n);
                    order.push(self.graph[n].clone());
                }
            }
            if order.len() == before {
                break; // cycles were rejected in new(); be safe anyway
            }
        }
        order
    }

    /// Stop order: dependents before what they depend on.
    pub fn stop_order(&self) -> Vec<String> {
        let mut order = self.start_order();
        order.reverse();
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{DependsOn, Link, VolumesFrom};

    fn project(edges: &[(&str, &str)], extra: &[&str]) -> Project {
        let mut p = Project { name: "t".into(), ..Default::default() };
        for (a, b) in edges {
            for n in [a, b] {
                p.services.entry(n.to_string()).or_default();
            }
            p.services.get_mut(*a).unwrap().depends_on.insert(
                b.to_string(),
                DependsOn { condition: DependsCondition::ServiceStarted, restart: false, required: true },
            );
        }
        for n in extra {
            p.services.entry(n.to_string()).or_default();
        }
        p
    }

    #[test]
    fn orders_dependencies_first() {
        let p = project(&[("web", "db"), ("db", "vol"), ("worker", "db")], &["solo"]);
        let g = Graph::new(&p).unwrap();
        let order = g.start_order();
        let pos = |s: &str| order.iter().position(|x| x == s).unwrap();
        assert!(pos("vol") < pos("db") && pos("db") < pos("web") && pos("db") < pos("worker"));
        assert_eq!(order.len(), 5);
        let stop = g.stop_order();
        let spos = |s: &str| stop.iter().position(|x| x == s).unwrap();
        assert!(spos("web") < spos("db") && spos("worker") < spos("db") && spos("db") < spos("vol"));
        assert_eq!(g.with_dependencies(&["web".into()]).len(), 3);
        assert_eq!(g.with_dependents(&["db".into()]), ["db", "web", "worker"].iter().map(|s| s.to_string()).collect());
    }

    #[test]
    fn names_the_whole_cycle() {
        let p = project(&[("a", "b"), ("b", "c"), ("c", "a")], &[]);
        let err = Graph::new(&p).err().unwrap().to_string();
        assert_eq!(err, "dependency cycle: a -> b -> c -> a");
        let p = project(&[("a", "a")], &[]);
        assert_eq!(Graph::new(&p).err().unwrap().to_string(), "dependency cycle: a -> a");
    }

    #[test]
    fn every_edge_kind_counts() {
        let mut p = project(&[], &["a", "b", "c", "d", "e"]);
        p.services["a"].links.push(Link { target: "b".into(), alias: "b".into() });
        p.services["b"].volumes_from.push(VolumesFrom { source: VolumesFromSource::Service("c".into()), read_only: false });
        p.services["c"].network_mode = Some("service:d".parse().unwrap());
        p.services["d"].ipc = Some("service:e".parse().unwrap());
        let g = Graph::new(&p).unwrap();
        assert_eq!(g.start_order(), vec!["e", "d", "c", "b", "a"]);
        p.services["e"].pid = Some("service:a".parse().unwrap());
        assert!(matches!(Graph::new(&p), Err(GraphError::Cycle(_))));
    }

    #[test]
    fn missing_service() {
        let mut p = project(&[], &["a"]);
        p.services["a"].links.push(Link { target: "nope".into(), alias: "nope".into() });
        assert!(matches!(Graph::new(&p), Err(GraphError::Missing { .. })));
    }
}
