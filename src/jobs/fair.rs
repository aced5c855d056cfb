//! Which claimable jobs to take first: higher priority always first; within one priority, turns
//! between job types (the type with the fewest jobs running here, counting the ones just taken,
//! goes next), oldest first within a type. A flood of one type cannot starve another.

use std::collections::{HashMap, VecDeque};

use crate::store::Claimable;

/// `candidates` (as the store lists them: priority descending, oldest first) in the order to
/// take them, given how many jobs of each group already run here.
pub fn fair_order(candidates: Vec<Claimable>, running: &HashMap<String, usize>) -> Vec<Claimable> {
    let mut out = Vec::with_capacity(candidates.len());
    let mut rest = candidates.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = first.priority;
        // One priority level, grouped by type in order of first appearance.
        let mut groups: Vec<(String, VecDeque<Claimable>)> = Vec::new();
        let mut add = |c: Claimable| match groups.iter_mut().find(|(g, _)| *g == c.group) {
            Some((_, q)) => q.push_back(c),
            None => groups.push((c.group.clone(), VecDeque::from([c]))),
        };
        add(first);
        while let Some(c) = rest.next_if(|c| c.priority == priority) {
            add(c);
        }
        let mut load: Vec<usize> = groups
            .iter()
            .map(|(g, _)| running.get(g).copied().unwrap_or(0))
            .collect();
        loop {
            let next = (0..groups.len())
                .filter(|&i| !groups[i].1.is_empty())
                .min_by_key(|&i| (load[i], i));
            let Some(i) = next else { break };
            if let Some(c) = groups[i].1.pop_front() {
                out.push(c);
                load[i] += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, group: &str, priority: i64) -> Claimable {
        Claimable {
            id: id.into(),
            group: group.into(),
            priority,
        }
    }

    fn ids(v: &[Claimable]) -> Vec<&str> {
        v.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn types_take_turns_within_a_priority_and_priority_wins() {
        let listed = vec![
            c("u1", "urgent", 5),
            c("a1", "a", 0),
            c("a2", "a", 0),
            c("a3", "a", 0),
            c("b1", "b", 0),
            c("b2", "b", 0),
        ];
        let order = fair_order(listed.clone(), &HashMap::new());
        assert_eq!(ids(&order), ["u1", "a1", "b1", "a2", "b2", "a3"]);
        // With two of `a` already running here, `b` goes first until it catches up.
        let running = HashMap::from([("a".to_owned(), 2)]);
        let order = fair_order(listed, &running);
        assert_eq!(ids(&order), ["u1", "b1", "b2", "a1", "a2", "a3"]);
    }
}
