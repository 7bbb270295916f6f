//! An answer in parts (`@defer`, `@stream`). The operation's levels resolve as for a whole
//! answer, except the deferred fields (`FieldPlan::deferred`), which stay placeholders; the
//! first part is written from them. Then each deferred group resolves once the groups it is
//! within have been delivered (`Group::after`), all ready groups at the same time, and each
//! is written as soon as it has resolved: a slow group holds back only itself. A group's
//! part has an entry per object the group's fields are on, at the object's path, with the
//! errors of its paths; a streamed list's items after its first come in the part after the
//! one that holds the list.

use futures::FutureExt as _;
use futures::stream::{FuturesUnordered, StreamExt as _};

use super::Executed;
use super::plan::{Group, Plan};
use super::run::{Level, Run};
use super::write::{Entry, Parts, Writer};
use crate::core::errors::ApiError;

/// A part of an answer delivered in parts.
pub enum Part {
    /// The first: everything not deferred, and the first items of streamed lists; and
    /// whether more parts follow.
    First(Executed, bool),
    /// A later one: deferred groups' fields and streamed lists' other items.
    Next {
        /// Each group's fields of one object, or a list's items, at its path.
        entries: Vec<Entry>,
        /// What its entries add to the actual cost.
        returned: u64,
        /// Whether more parts follow.
        has_next: bool,
    },
}

/// Runs `plan` and delivers its answer in parts; at `deadline`, the groups not delivered
/// yet are delivered as `null` with `TIMEOUT` at their paths, and the answer ends.
pub(super) async fn deliver(
    run: &Run<'_>,
    plan: &Plan,
    deadline: tokio::time::Instant,
    deliver: &mut (dyn FnMut(Part) + Send),
) {
    let mut level = run.level(&plan.root, Box::new(vec![()]), 1).await;
    run.late(&plan.root, &mut level).await;
    let level = level;
    let write = Write {
        run,
        plan,
        level: &level,
    };

    let mut first = write.writer();
    first.object(&plan.root, &level, 0);
    let streamed = first.parts.take().map(|p| p.streamed).unwrap_or_default();
    let mut order = Order::new(&plan.groups);
    let start = |group: u16| run.group(&plan.root, &level, group).map(move |()| group);
    let mut pending: FuturesUnordered<_> = order.ready().into_iter().map(start).collect();
    let executed = Executed {
        data: String::from_utf8(first.out.bytes).unwrap_or_else(|_| "null".to_owned()),
        errors: first.errors,
        returned: first.returned,
        tags: Vec::new(),
    };
    let more = !streamed.is_empty() || !pending.is_empty();
    deliver(Part::First(executed, more));
    if !streamed.is_empty() {
        let has_next = !pending.is_empty();
        deliver(Part::Next {
            entries: streamed,
            returned: 0,
            has_next,
        });
    }

    while !pending.is_empty() {
        let Ok(Some(group)) = tokio::time::timeout_at(deadline, pending.next()).await else {
            // The deadline: what is pending is dropped, and said to be late.
            drop(pending);
            let entries = write.timed_out(&order);
            deliver(Part::Next {
                entries,
                returned: 0,
                has_next: false,
            });
            return;
        };
        order.delivered(group);
        let (entries, returned) = write.group(group);
        pending.extend(order.ready().into_iter().map(start));
        // A group on no object (its parent was null) has nothing to say until the end.
        if !entries.is_empty() || pending.is_empty() {
            let has_next = !pending.is_empty();
            deliver(Part::Next {
                entries,
                returned,
                has_next,
            });
        }
    }
}

/// Which groups have started and which are delivered; group `n` at index `n - 1`, and
/// group 0, the first part, delivered from the start.
struct Order<'p> {
    groups: &'p [Group],
    started: Vec<bool>,
    delivered: Vec<bool>,
}

impl<'p> Order<'p> {
    fn new(groups: &'p [Group]) -> Self {
        Self {
            groups,
            started: vec![false; groups.len()],
            delivered: vec![false; groups.len()],
        }
    }

    /// The groups that may start now (every group they are within delivered), noted as
    /// started.
    fn ready(&mut self) -> Vec<u16> {
        let mut ready = Vec::new();
        for (n, group) in self.groups.iter().enumerate() {
            let delivered = |g: &u16| *g == 0 || self.delivered[usize::from(*g) - 1];
            if !self.started[n] && group.after.iter().all(delivered) {
                self.started[n] = true;
                ready.push(n as u16 + 1);
            }
        }
        ready
    }

    fn delivered(&mut self, group: u16) {
        self.delivered[usize::from(group) - 1] = true;
    }

    /// The groups started and not delivered, with their labels.
    fn pending(&self) -> impl Iterator<Item = (u16, Option<&'p str>)> + '_ {
        (self.groups.iter().enumerate())
            .filter(|(n, _)| self.started[*n] && !self.delivered[*n])
            .map(|(n, group)| (n as u16 + 1, group.label.as_deref()))
    }
}

/// Writes the parts after the first from the resolved levels.
struct Write<'w, 'r> {
    run: &'w Run<'r>,
    plan: &'w Plan,
    level: &'w Level,
}

impl<'w> Write<'w, '_> {
    fn writer(&self) -> Writer<'w> {
        let mut writer = Writer::new(self.run.registry, 4096, false);
        writer.parts = Some(Parts {
            variables: self.run.variables,
            defaults: &self.plan.variable_defaults,
            streamed: Vec::new(),
        });
        writer
    }

    /// The entries of a resolved group, and of the streamed lists in them; and what they
    /// return.
    fn group(&self, group: u16) -> (Vec<Entry>, u64) {
        let mut writer = self.writer();
        let mut entries = Vec::new();
        let label = self.plan.groups[usize::from(group) - 1].label.as_deref();
        writer.group(
            &self.plan.root,
            self.level,
            0,
            (group, label),
            None,
            &mut entries,
        );
        entries.extend(writer.parts.map(|p| p.streamed).unwrap_or_default());
        (entries, writer.returned)
    }

    /// The entries of the groups `order` has pending, each `null` with a `TIMEOUT` error.
    fn timed_out(&self, order: &Order<'_>) -> Vec<Entry> {
        let error = ApiError::DeadlinePassed;
        let mut writer = self.writer();
        let mut entries = Vec::new();
        for group in order.pending() {
            writer.group(
                &self.plan.root,
                self.level,
                0,
                group,
                Some(&error),
                &mut entries,
            );
        }
        entries
    }
}
