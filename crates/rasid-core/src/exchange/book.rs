//! One instrument's order book: price levels on each side, each a first-in-first-out queue of
//! orders linked through the orders themselves (`Order::prev`/`next`), so adding at the tail and
//! removing anywhere are O(1) once the order is found.

use super::{Order, OrderId, Side};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub head: OrderId,
    pub tail: OrderId,
    pub quantity_tonnes: u64,
    pub orders: u32,
}

/// Bids and asks keyed by price. The best bid is the highest key, the best ask the lowest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Book {
    pub(crate) bids: BTreeMap<i64, Level>,
    pub(crate) asks: BTreeMap<i64, Level>,
}

pub type Orders = BTreeMap<OrderId, Order>;

impl Book {
    pub fn best(&self, side: Side) -> Option<(i64, &Level)> {
        match side {
            Side::Buy => self.bids.last_key_value(),
            Side::Sell => self.asks.first_key_value(),
        }
        .map(|(p, l)| (*p, l))
    }

    pub fn best_price(&self, side: Side) -> Option<i64> {
        self.best(side).map(|(p, _)| p)
    }

    /// Levels from the best outwards: `(price, tonnes, orders)`.
    pub fn depth(&self, side: Side, levels_max: usize) -> Vec<(i64, u64, u32)> {
        let row = |(p, l): (&i64, &Level)| (*p, l.quantity_tonnes, l.orders);
        match side {
            Side::Buy => self.bids.iter().rev().take(levels_max).map(row).collect(),
            Side::Sell => self.asks.iter().take(levels_max).map(row).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    fn levels(&mut self, side: Side) -> &mut BTreeMap<i64, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    pub(crate) fn levels_of(&self, side: Side) -> &BTreeMap<i64, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Appends an order (already in `orders`) at the tail of its price level: last in time.
    pub(crate) fn push_back(&mut self, orders: &mut Orders, id: OrderId) {
        let (side, price, remaining) = {
            let o = &orders[&id];
            (o.side, o.price_minor, o.remaining_tonnes)
        };
        let levels = self.levels(side);
        match levels.get_mut(&price) {
            None => {
                levels.insert(
                    price,
                    Level { head: id, tail: id, quantity_tonnes: remaining, orders: 1 },
                );
                let o = orders.get_mut(&id).expect("order is stored");
                o.prev = None;
                o.next = None;
            }
            Some(level) => {
                let tail = level.tail;
                level.tail = id;
                level.quantity_tonnes += remaining;
                level.orders += 1;
                orders.get_mut(&tail).expect("level tail is stored").next = Some(id);
                let o = orders.get_mut(&id).expect("order is stored");
                o.prev = Some(tail);
                o.next = None;
            }
        }
    }

    /// Takes an order out of its level, wherever it is in the queue.
    pub(crate) fn unlink(&mut self, orders: &mut Orders, id: OrderId) {
        let (side, price, remaining, prev, next) = {
            let o = &orders[&id];
            (o.side, o.price_minor, o.remaining_tonnes, o.prev, o.next)
        };
        if let Some(p) = prev {
            orders.get_mut(&p).expect("linked").next = next;
        }
        if let Some(n) = next {
            orders.get_mut(&n).expect("linked").prev = prev;
        }
        let levels = self.levels(side);
        let level = levels.get_mut(&price).expect("a resting order's level exists");
        level.orders -= 1;
        level.quantity_tonnes -= remaining;
        if level.orders == 0 {
            levels.remove(&price);
        } else {
            if level.head == id {
                level.head = next.expect("a level with orders left has a next");
            }
            if level.tail == id {
                level.tail = prev.expect("a level with orders left has a prev");
            }
        }
        let o = orders.get_mut(&id).expect("order is stored");
        o.prev = None;
        o.next = None;
    }

    /// Records that `tonnes` of a resting order at `price` traded or were amended away.
    pub(crate) fn reduce(&mut self, side: Side, price: i64, tonnes: u64) {
        let level = self.levels(side).get_mut(&price).expect("a resting order's level exists");
        level.quantity_tonnes -= tonnes;
    }
}
