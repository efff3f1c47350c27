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
        /// Queue: create a queue with its options (no change when it exists with the same options).
        QueueCreate = 0x0301,
        /// Queue: replace an existing queue's options.
        QueueUpdate = 0x0302,
        /// Queue: delete a queue with its messages, DLQ and files.
        QueueDelete = 0x0303,
        /// Queue: whether a queue exists.
        QueueExists = 0x0304,
        /// Queue: push one message (priority, delay, optional dedup id).
        QueuePush = 0x0305,
        /// Queue: push many messages, all or nothing.
        QueuePushBatch = 0x0306,
        /// Queue: subscribe this connection under a client-chosen consumer id with a number of credits.
        QueueSubscribe = 0x0307,
        /// Queue: stop deliveries to one consumer of this connection.
        QueueUnsubscribe = 0x0308,
        /// Queue: settle a delivery as done.
        QueueAck = 0x0309,
        /// Queue: settle a delivery as failed, with a reason (retry with backoff, or dead-letter).
        QueueNack = 0x030A,
        /// Queue: extend a delivery's lease by the visibility timeout.
        QueueTouch = 0x030B,
        /// Queue: hand a delivery back without counting the attempt.
        QueueRelease = 0x030C,
        /// Queue: lease up to `count` messages, waiting up to `wait_ms` for the first.
        QueuePop = 0x030D,
        /// Queue: message counts per set and the number of consumers.
        QueueStats = 0x030E,
        /// Queue: remove every ready and delayed message.
        QueuePurge = 0x030F,
        /// Queue: read a page of the dead-letter queue.
        QueueDlqPeek = 0x0310,
        /// Queue: move one dead-lettered message back to the queue.
        QueueDlqMove = 0x0311,
        /// Queue: move every dead-lettered message back to the queue.
        QueueDlqRedrive = 0x0312,
        /// Queue: delete one dead-lettered message.
        QueueDlqDelete = 0x0313,
        /// Queue: delete every dead-lettered message.
        QueueDlqPurge = 0x0314,
        /// Queue push (server → client only): a delivery for one consumer of the connection.
        QueueDelivery = 0x0315,
        /// Stream: create a stream with its options (no change when it exists with the same options).
        StreamCreate = 0x0401,
        /// Stream: replace an existing stream's options.
        StreamUpdate = 0x0402,
        /// Stream: delete a stream with its records, groups and files.
        StreamDelete = 0x0403,
        /// Stream: whether a stream exists.
        StreamExists = 0x0404,
        /// Stream: append one record.
        StreamPublish = 0x0405,
        /// Stream: append many records at dense offsets, all or nothing.
        StreamPublishBatch = 0x0406,
        /// Stream: read up to `limit` records from an offset, outside any consumer group.
        StreamRead = 0x0407,
        /// Stream: join a consumer group as a client-chosen member with a number of credits.
        StreamSubscribe = 0x0408,
        /// Stream: stop deliveries to one member of this connection.
        StreamUnsubscribe = 0x0409,
        /// Stream: settle a group's delivery of a record as done.
        StreamAck = 0x040A,
        /// Stream: settle a group's delivery of a record as failed, with a reason (redeliver, or dead list).
        StreamNack = 0x040B,
        /// Stream: move a group's position to the beginning, the end, an offset or a time.
        StreamSeek = 0x040C,
        /// Stream: offsets, size, segments and per-group counts.
        StreamStats = 0x040D,
        /// Stream: read a page of a group's dead list.
        StreamDeadList = 0x040E,
        /// Stream: deliver one or every dead record of a group again.
        StreamDeadReplay = 0x040F,
        /// Stream push (server → client only): a record for one member of the connection.
        StreamDelivery = 0x0410,
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
