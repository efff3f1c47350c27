//! The opcode table: every command of native protocol v1, with numbers identical in Rust and TypeScript.
//!
//! Ranges: `0x00xx` connection, `0x01xx` store, `0x02xx` pub/sub, `0x03xx` queue, `0x04xx` stream. Numbers are
//! never reused.

wire_enum! {
    /// A command of the native protocol.
    Opcode {
        /// Handshake: protocol version, client name, auth token.
        Hello = 0x0001,
        /// Liveness check; echoes its payload.
        Ping = 0x0002,
        /// Store: set a key (optional TTL, NX/XX condition).
        StoreSet = 0x0101,
        /// Store: read a key.
        StoreGet = 0x0102,
        /// Store: delete keys.
        StoreDel = 0x0103,
        /// Store: count existing keys.
        StoreExists = 0x0104,
        /// Store: set a key's TTL.
        StoreExpire = 0x0105,
        /// Store: remove a key's TTL.
        StorePersist = 0x0106,
        /// Store: remaining TTL of a key.
        StoreTtl = 0x0107,
        /// Store: add a signed delta to an integer value.
        StoreIncrBy = 0x0108,
        /// Store: set many keys.
        StoreMset = 0x0109,
        /// Store: read many keys.
        StoreMget = 0x010A,
        /// Store: iterate keys with a cursor and an optional glob pattern.
        StoreScan = 0x010B,
        /// Store: number of keys.
        StoreDbsize = 0x010C,
        /// Store: delete every key.
        StoreFlushAll = 0x010D,
        /// Pub/sub: subscribe this connection to a topic filter under a client-chosen subscription id.
        PubSubSubscribe = 0x0201,
        /// Pub/sub: end this connection's subscription to a filter.
        PubSubUnsubscribe = 0x0202,
        /// Pub/sub: publish a message to a topic (optionally retained, with a TTL).
        PubSubPublish = 0x0203,
        /// Pub/sub: remove a topic's retained message without publishing.
        PubSubClearRetained = 0x0204,
        /// Pub/sub push (server → client only): a message for one or more subscriptions of the connection.
        PubSubMessage = 0x0205,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_round_trips_through_its_number() {
        for &opcode in Opcode::ALL {
            assert_eq!(Opcode::from_u16(opcode as u16), Some(opcode));
        }
        assert_eq!(Opcode::from_u16(0xFFFF), None);
    }

    #[test]
    fn every_opcode_has_a_row_in_the_protocol_legend() {
        let legend = include_str!("../../docs/protocol.md");
        for &opcode in Opcode::ALL {
            let row = format!("| `{}` | `0x{:04X}` |", opcode.name(), opcode as u16);
            assert!(legend.contains(&row), "docs/protocol.md lacks the row starting {row}");
        }
    }
}
