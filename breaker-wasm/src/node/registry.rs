//! The breakers of one node by name, with a hard bound: least recently used closed breakers are
//! forgotten first, and an open or half_open one only when no closed one is left.
//!
//! Breakers live in a slab; two intrusive lists (closed, and everything else) keep use order,
//! most recent at the head, so finding the breaker to forget is O(1). The bound is both a count
//! (`max_services`) and the memory budget: each breaker's charge (see `budget`) is kept up to
//! date whenever it is filed, which happens after every change.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::cell::Cell;
use std::hash::BuildHasher;

use super::budget;
use crate::breaker::Breaker;

const NIL: u32 = u32::MAX;

/// One tracked breaker and its place in the use order.
#[derive(Debug)]
pub struct Slot {
    pub name: Box<str>,
    pub breaker: Breaker,
    /// The node's use counter when this breaker was last used: orders snapshots.
    pub last_used: u64,
    /// What it is charged against the memory budget, as of its last filing.
    charge: u64,
    prev: u32,
    next: u32,
    list: List,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    Closed = 0,
    Other = 1,
    Free = 2,
}

#[derive(Clone, Copy, Debug)]
struct Ends {
    head: u32,
    tail: u32,
}

const EMPTY: Ends = Ends {
    head: NIL,
    tail: NIL,
};

/// Breakers by name, in use order.
#[derive(Debug)]
pub struct Registry {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    lists: [Ends; 2],
    len: usize,
    /// The sum of the breakers' charges.
    charged: u64,
    /// Breakers forgotten under the bound.
    pub evicted: u64,
    /// Counts uses; the value of the last use.
    pub clock: u64,
    /// The id `find` returned last, or one a caller expects ([`Registry::expect`]): `find`
    /// compares its name first, and hashes only when that is not the breaker asked for.
    recent: Cell<u32>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            lists: [EMPTY; 2],
            len: 0,
            charged: 0,
            evicted: 0,
            clock: 0,
            recent: Cell::new(NIL),
        }
    }
}

impl Registry {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The breakers' charges against the memory budget, in bytes.
    pub fn charged(&self) -> u64 {
        self.charged
    }

    pub fn find(&self, name: &str) -> Option<u32> {
        // A forgotten breaker's slot has an empty name, which no service has.
        let recent = self.recent.get();
        if self
            .slots
            .get(recent as usize)
            .is_some_and(|s| &*s.name == name)
        {
            return Some(recent);
        }
        let hash = self.hasher.hash_one(name);
        let id = self
            .index
            .find(hash, |&i| &*self.slots[i as usize].name == name)
            .copied()?;
        self.recent.set(id);
        Some(id)
    }

    /// The id `find` returned last (`u32::MAX` before the first).
    pub fn recent(&self) -> u32 {
        self.recent.get()
    }

    /// Tells `find` which breaker is likely asked for next (any id: it is checked by name).
    pub fn expect(&self, id: u32) {
        self.recent.set(id);
    }

    pub fn get(&self, id: u32) -> &Slot {
        &self.slots[id as usize]
    }

    pub fn breaker_mut(&mut self, id: u32) -> &mut Breaker {
        &mut self.slots[id as usize].breaker
    }

    /// The breaker named `name`, created with `make` if it does not exist, after forgetting
    /// breakers until one more fits in `max` breakers and `bytes` of charges.
    pub fn find_or_insert(
        &mut self,
        name: &str,
        max: u64,
        bytes: u64,
        make: impl FnOnce() -> Breaker,
    ) -> u32 {
        if let Some(id) = self.find(name) {
            return id;
        }
        let breaker = make();
        let charge = budget::breaker_charge(name, &breaker);
        self.shrink_to(max.saturating_sub(1), bytes.saturating_sub(charge));
        self.insert(name.into(), breaker, None)
    }

    /// Adds a breaker known not to be tracked; `last_used` given when restoring.
    pub fn insert(&mut self, name: Box<str>, breaker: Breaker, last_used: Option<u64>) -> u32 {
        let hash = self.hasher.hash_one(&*name);
        let slot = Slot {
            name,
            breaker,
            last_used: 0,
            charge: 0,
            prev: NIL,
            next: NIL,
            list: List::Free,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        let hasher = &self.hasher;
        self.index
            .insert_unique(hash, id, |&i| hasher.hash_one(&*slots[i as usize].name));
        self.len += 1;
        match last_used {
            Some(tick) => {
                self.clock = self.clock.max(tick);
                self.link(id, tick);
            }
            None => self.touch(id),
        }
        id
    }

    /// Marks a breaker as just used, and files it by its current state.
    pub fn touch(&mut self, id: u32) {
        self.clock += 1;
        let tick = self.clock;
        let slot = &self.slots[id as usize];
        // Already at the head of the list its state files it in (the breaker used last):
        // unlinking and linking it again would leave the list as it is.
        if slot.prev == NIL && slot.list != List::Free && slot.list == list_for(&slot.breaker) {
            self.refresh(id, tick);
            return;
        }
        self.unlink(id);
        self.link(id, tick);
    }

    /// Whether filing breaker `id` with one more permit than it holds would leave nothing for
    /// [`Registry::shrink_to`] with `max` and `bytes` to forget.
    pub fn holds_one_more_permit(&self, id: u32, max: u64, bytes: u64) -> bool {
        let slot = &self.slots[id as usize];
        let charge = budget::breaker_charge(&slot.name, &slot.breaker) + budget::permit_charge();
        self.len as u64 <= max && self.charged - slot.charge + charge <= bytes
    }

    /// Forgets breakers, least recently used closed ones first, until at most `max` remain and
    /// their charges come to at most `bytes`.
    pub fn shrink_to(&mut self, max: u64, bytes: u64) {
        while self.len as u64 > max || (self.len > 0 && self.charged > bytes) {
            let victim = [List::Closed, List::Other]
                .into_iter()
                .map(|l| self.lists[l as usize].tail)
                .find(|&t| t != NIL)
                .expect("a non-empty registry has a breaker in some list");
            self.remove(victim);
            self.evicted += 1;
        }
    }

    fn remove(&mut self, id: u32) {
        self.unlink(id);
        let hash = self.hasher.hash_one(&*self.slots[id as usize].name);
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == id) {
            entry.remove();
        }
        let slot = &mut self.slots[id as usize];
        slot.name = "".into();
        slot.breaker = Breaker::default();
        slot.list = List::Free;
        self.charged -= slot.charge;
        slot.charge = 0;
        self.free.push(id);
        self.len -= 1;
    }

    /// Files every breaker again by its state, keeping use order: after a bulk change of state.
    pub fn refile_all(&mut self) {
        let ids = self.ids_by_use();
        self.lists = [EMPTY; 2];
        for &id in &ids {
            let slot = &mut self.slots[id as usize];
            slot.list = List::Free;
            let tick = slot.last_used;
            self.link(id, tick);
        }
    }

    /// Every tracked breaker's id, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.slots.len() as u32).filter(|&i| self.slots[i as usize].list != List::Free)
    }

    /// Every tracked breaker's id, least recently used first (equal uses in id order).
    pub fn ids_by_use(&self) -> Vec<u32> {
        let mut pairs: Vec<(u64, u32)> = self
            .ids()
            .map(|i| (self.slots[i as usize].last_used, i))
            .collect();
        crate::sort::numbers(&mut pairs);
        pairs.into_iter().map(|(_, i)| i).collect()
    }

    /// Every tracked breaker's id, in name order.
    pub fn ids_by_name(&self) -> Vec<u32> {
        let mut pairs: Vec<(&str, u32)> = self
            .ids()
            .map(|i| (&*self.slots[i as usize].name, i))
            .collect();
        crate::sort::names(&mut pairs);
        pairs.into_iter().map(|(_, i)| i).collect()
    }

    /// Drops every breaker (the evicted count and use clock too).
    pub fn clear(&mut self) {
        *self = Registry::default();
    }

    fn unlink(&mut self, id: u32) {
        let slot = &self.slots[id as usize];
        let (prev, next, list) = (slot.prev, slot.next, slot.list);
        if list == List::Free {
            return;
        }
        let ends = &mut self.lists[list as usize];
        match prev {
            NIL => ends.head = next,
            p => self.slots[p as usize].next = next,
        }
        let ends = &mut self.lists[list as usize];
        match next {
            NIL => ends.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
        let slot = &mut self.slots[id as usize];
        slot.prev = NIL;
        slot.next = NIL;
        slot.list = List::Free;
    }

    /// Puts an unlinked breaker at the head of the list for its state, stamped `tick`, and
    /// brings its charge up to date. When restoring, breakers arrive in use order, so the head is
    /// always right.
    fn link(&mut self, id: u32, tick: u64) {
        self.refresh(id, tick);
        let list = list_for(&self.slots[id as usize].breaker);
        let head = self.lists[list as usize].head;
        let slot = &mut self.slots[id as usize];
        slot.prev = NIL;
        slot.next = head;
        slot.list = list;
        match head {
            NIL => self.lists[list as usize].tail = id,
            h => self.slots[h as usize].prev = id,
        }
        self.lists[list as usize].head = id;
    }

    /// Stamps breaker `id` with `tick` and brings its charge up to date.
    fn refresh(&mut self, id: u32, tick: u64) {
        let slot = &mut self.slots[id as usize];
        let charge = budget::breaker_charge(&slot.name, &slot.breaker);
        self.charged = self.charged - slot.charge + charge;
        slot.charge = charge;
        slot.last_used = tick;
    }
}

/// The list a breaker in this state is filed in.
fn list_for(b: &Breaker) -> List {
    if b.is_closed() {
        List::Closed
    } else {
        List::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::{Config, StateName};

    fn open_breaker() -> Breaker {
        let mut b = Breaker::default();
        b.set_state(&Config::default(), StateName::Open, 0, &mut Vec::new());
        b
    }

    #[test]
    fn forgets_the_least_recently_used_closed_breaker_first() {
        let mut r = Registry::default();
        let a = r.find_or_insert("a", 3, u64::MAX, open_breaker);
        r.find_or_insert("b", 3, u64::MAX, Breaker::default);
        r.find_or_insert("c", 3, u64::MAX, Breaker::default);
        r.touch(r.find("b").unwrap());
        r.find_or_insert("d", 3, u64::MAX, Breaker::default);
        assert_eq!(r.len(), 3);
        assert_eq!(r.evicted, 1);
        assert!(
            r.find("c").is_none(),
            "c was the least recently used closed breaker"
        );
        assert_eq!(r.find("a"), Some(a), "an open breaker outlives closed ones");
        r.find_or_insert("e", 3, u64::MAX, open_breaker);
        r.find_or_insert("f", 3, u64::MAX, open_breaker);
        assert!(r.find("a").is_some(), "b and d, closed, went first");
        r.find_or_insert("g", 3, u64::MAX, open_breaker);
        // Only open breakers left: the least recently used of them goes.
        assert!(r.find("a").is_none());
        assert!(r.find("e").is_some() && r.find("f").is_some() && r.find("g").is_some());
        assert_eq!(r.evicted, 4);
    }

    #[test]
    fn a_wrong_or_outdated_hint_never_finds_another_breaker() {
        let mut r = Registry::default();
        let a = r.find_or_insert("a", 2, u64::MAX, Breaker::default);
        let b = r.find_or_insert("b", 2, u64::MAX, Breaker::default);
        r.expect(a);
        assert_eq!(r.find("b"), Some(b));
        assert_eq!(r.recent(), b);
        r.expect(u32::MAX - 1);
        assert_eq!(r.find("a"), Some(a));
        // "a" is forgotten and its slot goes to "c": a hint at that slot finds "c" only.
        r.touch(b);
        let c = r.find_or_insert("c", 2, u64::MAX, Breaker::default);
        assert_eq!(c, a, "the freed slot is reused");
        r.expect(a);
        assert_eq!(r.find("a"), None);
        r.expect(a);
        assert_eq!(r.find("c"), Some(c));
    }

    #[test]
    fn the_breaker_used_last_is_filed_again_by_its_new_state() {
        let mut r = Registry::default();
        let a = r.find_or_insert("a", 10, u64::MAX, Breaker::default);
        let b = r.find_or_insert("b", 10, u64::MAX, Breaker::default);
        r.touch(b);
        assert_eq!(r.get(b).last_used, r.clock);
        // `b`, the head of the closed breakers, opens: it is filed with the others.
        let config = Config::default();
        r.breaker_mut(b)
            .set_state(&config, StateName::Open, 0, &mut Vec::new());
        r.touch(b);
        assert_eq!(r.charged(), r.get(a).charge + r.get(b).charge);
        r.touch(a);
        r.touch(a);
        r.shrink_to(1, u64::MAX);
        assert_eq!(r.find("b"), Some(b), "the closed breaker goes first");
        assert!(r.find("a").is_none());
    }

    #[test]
    fn reuses_freed_slots() {
        let mut r = Registry::default();
        for i in 0..1000 {
            r.find_or_insert(&format!("s{i}"), 10, u64::MAX, Breaker::default);
        }
        assert_eq!(r.len(), 10);
        assert!(r.slots.len() <= 11);
        assert_eq!(r.ids().count(), 10);
    }

    #[test]
    fn forgets_by_the_memory_budget_as_by_count_and_keeps_the_charges_exact() {
        let mut r = Registry::default();
        let each = budget::breaker_charge("s00", &Breaker::default());
        r.find_or_insert("open", 100, u64::MAX, open_breaker);
        let open = r.charged();
        for i in 0..50 {
            r.find_or_insert(&format!("s{i:02}"), 100, open + 10 * each, Breaker::default);
        }
        assert_eq!(r.len(), 11, "the open breaker and ten closed ones fit");
        assert_eq!(r.charged(), open + 10 * each);
        assert_eq!(r.evicted, 40);
        assert!(r.find("open").is_some(), "closed breakers go first");
        assert!(r.find("s49").is_some() && r.find("s39").is_none());
        r.shrink_to(100, 0);
        assert_eq!((r.len(), r.charged()), (0, 0));
    }
}
