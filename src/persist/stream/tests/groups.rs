//! The consumer-group journal: opaque records round trip through restarts and compaction.

use std::fs;

use super::*;
use crate::persist::stream::GROUPS_DIR;

fn group_record(index: usize) -> Vec<u8> {
    format!("group analytics committed {index}").into_bytes()
}

#[test]
fn group_records_round_trip() {
    let dir = temp_dir();
    let config = small(64 << 10, 1 << 20);
    let written: Vec<Vec<u8>> = (0..50).map(group_record).chain([Vec::new(), vec![0, 1, 2]]).collect();
    block_on(async {
        let files = create(dir.path(), config);
        let mut lsn = 0;
        for chunk in written.chunks(7) {
            lsn = files.append_group_records(chunk).expect("accepted");
        }
        files.wait_groups_durable(lsn).await.expect("durable");
        crash(files);
    });
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!(report.group_records, written, "in order, empty ones included");
        assert_eq!(report.group_bytes_truncated, 0);
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn compaction_keeps_the_snapshot_and_later_records() {
    let dir = temp_dir();
    let config = StreamConfig { group_compact_bytes: 1 << 10, ..small(64 << 10, 1 << 20) };
    block_on(async {
        let files = create(dir.path(), config);
        let lsn = files.append_group_records(&(0..100).map(group_record).collect::<Vec<_>>()).expect("accepted");
        files.wait_groups_durable(lsn).await.expect("durable");
        assert!(files.group_compaction_due());
        files.compact_groups(|| vec![b"state at 99".to_vec()]).await.expect("compact");
        assert!(!files.group_compaction_due());
        let lsn = files.append_group_records(&[b"after".to_vec()]).expect("accepted");
        files.wait_groups_durable(lsn).await.expect("durable");
        files.shutdown().await.expect("clean shutdown");
    });
    let groups = dir_of(dir.path()).join(GROUPS_DIR);
    let mut names: Vec<String> = fs::read_dir(&groups)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["snapshot-00000000000000000002.snap", "wal-00000000000000000002.log"]);
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!(report.group_records, vec![b"state at 99".to_vec(), b"after".to_vec()]);
        assert_eq!(report.next_offset, 0, "the records log is untouched");
        files.shutdown().await.expect("clean shutdown");
    });
}
