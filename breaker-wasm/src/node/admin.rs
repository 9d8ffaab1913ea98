//! Admin: operations on one breaker or on all of them, status, configure, and the node's
//! snapshot and restore.

use crate::breaker::{Breaker, Config, Field, Patch, StateName, Transitions};

use super::budget;
use super::tallies::{ServiceTallies, pair_index};
use super::{
    ConfigChange, ErrorCode, Image, ImageError, Node, OpenFor, Refused, Reply, SavedBreaker,
    ServiceState,
};

impl Node {
    /// Runs an admin change on `service` (created if needed) or on every breaker.
    pub(super) fn each_breaker(
        &mut self,
        service: Option<&str>,
        change: impl Fn(&mut Breaker, &Config, &mut Transitions),
    ) {
        match service {
            Some(service) => self.traffic(service, change),
            None => {
                // In name order: the same in every node, restored or not.
                for id in self.breakers.ids_by_name() {
                    let name = self.breakers.get(id).name.clone();
                    let config = self.config_for(&name);
                    change(self.breakers.breaker_mut(id), &config, &mut self.scratch);
                    self.log_transitions(&name);
                }
                self.breakers.refile_all();
            }
        }
    }

    /// `isolate` or `release` of `service`'s breaker (created if needed by `isolate`).
    pub(super) fn isolate<'a>(&mut self, service: &'a str, release: bool) -> Reply<'a> {
        let now = self.now;
        if release && self.breakers.find(service).is_none() {
            return Reply::Refused(Refused::NotIsolated);
        }
        let holders = self.traffic(service, |b, c, log| match release {
            false => Some(b.isolate(c, now, log)),
            true => b.release(now, log),
        });
        match holders {
            Some(holders) => Reply::IsolateOk(service, release, holders),
            None => Reply::Refused(Refused::NotIsolated),
        }
    }

    /// An operator's `transition` of `service`'s breaker (created if needed).
    pub(super) fn transition<'a>(
        &mut self,
        service: &'a str,
        to: StateName,
        open: Option<OpenFor>,
    ) -> Reply<'a> {
        let now = self.now;
        let open_ms = match open {
            None => None,
            Some(OpenFor::Ms(ms)) => Some(ms),
            Some(OpenFor::Until(t)) if t > now => Some(t - now),
            Some(OpenFor::Until(_)) => return Reply::Refused(Refused::NotAfterNow { now }),
        };
        self.traffic(service, |b, c, log| b.transition(c, to, open_ms, now, log));
        let state = self.view(service).state;
        Reply::TransitionOk { service, state }
    }

    pub(super) fn log_transitions(&mut self, service: &str) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for t in scratch.drain(..) {
            if let Some(i) = pair_index(t.from, t.to) {
                self.tallies_of(service).transitions[i] += 1;
            }
            self.events.push(service, t);
        }
        self.scratch = scratch;
    }

    /// `service`'s metrics tallies, bounded like the breakers (`max_services`).
    pub(super) fn tallies_of(&mut self, service: &str) -> &mut ServiceTallies {
        let breakers = &self.breakers;
        let bound = self.defaults.max_services;
        self.tallies
            .entry(service, bound, |name| breakers.find(name).is_some())
    }

    /// Applies every due timed transition, so the event log and snapshots are complete.
    pub(super) fn settle_all(&mut self) {
        let now = self.now;
        self.each_breaker(None, |b, config, log| b.settle(config, now, log));
    }

    pub(super) fn status_all(&self) -> Reply<'static> {
        let services: Vec<ServiceState> = self
            .breakers
            .ids_by_name()
            .into_iter()
            .map(|id| {
                let slot = self.breakers.get(id);
                let view = slot.breaker.view(&self.config_for(&slot.name), self.now);
                ServiceState {
                    service: slot.name.clone(),
                    state: view.state,
                    figures: view.figures,
                }
            })
            .collect();
        Reply::StatusAll {
            services,
            evicted: self.breakers.evicted,
        }
    }

    /// `status` of every breaker with `"memory":true`: the budget and checkpoints too.
    pub(super) fn status_with_memory(&self) -> Reply<'static> {
        match self.status_all() {
            Reply::StatusAll { services, evicted } => Reply::StatusAllWithMemory {
                services,
                evicted,
                memory: self.memory(),
            },
            other => other,
        }
    }

    pub(super) fn configure<'a>(
        &mut self,
        service: Option<&'a str>,
        change: &ConfigChange,
    ) -> Reply<'a> {
        // Deadlines that passed under the old numbers (an expired probe lease) happen first.
        let now = self.now;
        // A service that has no breaker has nothing to settle (and is not created for it).
        if service.is_none_or(|s| self.breakers.find(s).is_some()) {
            self.each_breaker(service, |b, config, log| b.settle(config, now, log));
        }
        let node_wide = change
            .set
            .fields()
            .map(|(f, _)| f)
            .chain(change.cleared.iter().copied())
            .find(|f| f.node_wide());
        match service {
            Some(service) => {
                if let Some(field) = node_wide {
                    return Reply::Refused(Refused::NodeWide(field));
                }
                let patch = self
                    .overrides
                    .get(service)
                    .copied()
                    .unwrap_or_default()
                    .merged(&change.set, &change.cleared);
                if let Err(text) = self.check_override(service, &patch) {
                    return Reply::error(ErrorCode::Malformed, text);
                }
                let charge = budget::override_charge(service);
                if patch.is_empty() {
                    if self.overrides.remove(service).is_some() {
                        self.overrides_charged -= charge;
                    }
                } else if self.overrides.insert(service.into(), patch).is_none() {
                    self.overrides_charged += charge;
                }
                self.enforce_budget();
                Reply::ConfigureOk {
                    service: Some(service),
                    config: self.config_for(service),
                }
            }
            None => {
                let merged = Patch::full(&self.defaults).merged(&change.set, &change.cleared);
                let defaults = merged.apply(&Config::default());
                let changed = |f: Field| {
                    change.set.fields().any(|(g, _)| g == f) || change.cleared.contains(&f)
                };
                let field = if changed(Field::Window) {
                    "window"
                } else {
                    "max_services"
                };
                let budget = budget::budget(self.memory_limit);
                if let Err(text) = budget::check(&defaults, budget, field) {
                    return Reply::error(ErrorCode::Malformed, text);
                }
                self.defaults = defaults;
                self.enforce_budget();
                Reply::ConfigureOk {
                    service: None,
                    config: self.defaults,
                }
            }
        }
    }

    /// Whether `patch` may become `service`'s override: overrides count against
    /// `max_services` and may take at most half the memory budget, and one breaker under the
    /// result must fit in the budget.
    fn check_override(&self, service: &str, patch: &Patch) -> Result<(), String> {
        let budget = budget::budget(self.memory_limit);
        let config = patch.apply(&self.defaults);
        if budget::typical_breaker(&config) > budget {
            return Err(format!(
                "config.window: one breaker with this window is charged {} bytes, more than the memory budget of {budget} bytes",
                budget::typical_breaker(&config)
            ));
        }
        if patch.is_empty() || self.overrides.contains_key(service) {
            return Ok(());
        }
        let max = self.defaults.max_services;
        if self.overrides.len() as u64 >= max {
            return Err(format!(
                "service: {max} services have an override already, as many as max_services allows; clear one (its fields set to null) first"
            ));
        }
        if self.overrides_charged + budget::override_charge(service) > budget / 2 {
            return Err(format!(
                "service: the overrides already take {} bytes, half the memory budget of {budget} bytes; clear one (its fields set to null) first",
                self.overrides_charged
            ));
        }
        Ok(())
    }

    /// The overrides in name order, as a snapshot lists them.
    fn overrides_by_name(&self) -> Vec<(Box<str>, Patch)> {
        let overrides: Vec<(&Box<str>, &Patch)> = self.overrides.iter().collect();
        let mut order: Vec<(&str, u32)> = (overrides.iter().zip(0..))
            .map(|((name, _), i)| (&***name, i))
            .collect();
        crate::sort::names(&mut order);
        order
            .into_iter()
            .map(|(_, i)| {
                let (name, patch) = overrides[i as usize];
                (name.clone(), *patch)
            })
            .collect()
    }

    /// Everything needed to resume this node elsewhere.
    pub fn snapshot(&self) -> Image {
        #[cfg(feature = "test-trap")]
        if self.breakers.find("test-trap-snapshot").is_some() {
            panic!("test-trap-snapshot: a failure on snapshot (test-trap feature)");
        }
        let breakers = self
            .breakers
            .ids_by_use()
            .into_iter()
            .map(|id| {
                let slot = self.breakers.get(id);
                SavedBreaker::of(&slot.name, &slot.breaker)
            })
            .collect();
        Image {
            now_ms: self.now,
            defaults: self.defaults,
            overrides: self.overrides_by_name(),
            breakers,
            evicted: self.breakers.evicted,
            last_permit: self.last_permit,
            events: self.events.clone(),
        }
    }

    /// Replaces this node's state with `image`, shifting its times back when the node's clock is
    /// behind the one it was taken with. Nothing changes when the image is invalid.
    pub fn restore(&mut self, image: &Image) -> Result<usize, ImageError> {
        image.validate()?;
        let budget = budget::budget(self.memory_limit);
        let needed = budget::image_charge(image);
        if needed > budget {
            return Err(ImageError::Field(format!(
                "breakers: this snapshot is charged {needed} bytes, more than this node's memory budget of {budget} bytes (give it more memory)"
            )));
        }
        #[cfg(feature = "test-trap")]
        if image
            .breakers
            .iter()
            .any(|b| &*b.name == "test-trap-restore")
        {
            panic!("test-trap-restore: a failure on restore (test-trap feature)");
        }
        let delta = image.now_ms.saturating_sub(self.now);
        self.defaults = image.defaults;
        self.overrides = image.overrides.iter().cloned().collect();
        self.overrides_charged = image
            .overrides
            .iter()
            .map(|(name, _)| budget::override_charge(name))
            .sum();
        self.breakers.clear();
        for saved in &image.breakers {
            let mut breaker = Breaker::from_parts(&saved.name, saved.parts.clone());
            breaker.shift_back(delta);
            let tick = self.breakers.clock + 1;
            self.breakers
                .insert(saved.name.clone(), breaker, Some(tick));
        }
        self.breakers.evicted = image.evicted;
        self.last_permit = image.last_permit;
        self.events = image.events.clone();
        self.events.shift_back(delta);
        self.fleet.restored(self.events.last_seq());
        Ok(image.breakers.len())
    }
}
