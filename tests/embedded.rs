//! The embedded database: created on first start, reachable only through its private socket,
//! stopped cleanly, and its data still there on the next start.

use sqlx::{Connection, PgConnection};
use wangge::embedded::EmbeddedPostgres;

#[tokio::test]
async fn creates_stops_and_reopens_a_private_cluster() {
    let dir =
        std::env::temp_dir().join(format!("wangge-embedded-{}", uuid::Uuid::new_v4().simple()));
    let cluster = EmbeddedPostgres::start(&dir)
        .await
        .expect("start the embedded cluster");
    assert!(cluster.was_created());
    assert!(cluster.folder().join("pg/PG_VERSION").exists());
    assert!(
        cluster.folder().join(".s.PGSQL.5432").exists(),
        "listens on a socket in its folder"
    );
    let mut conn = PgConnection::connect_with(&cluster.connect_options())
        .await
        .unwrap();
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(listen, "", "no TCP listener");
    sqlx::query("CREATE TABLE kept (v text)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO kept VALUES ('acknowledged')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    cluster.stop().await.unwrap();
    assert!(
        !dir.join("pg/postmaster.pid").exists(),
        "the server stopped"
    );

    let cluster = EmbeddedPostgres::start(&dir).await.unwrap();
    assert!(
        !cluster.was_created(),
        "the second start reuses the cluster"
    );
    let mut conn = PgConnection::connect_with(&cluster.connect_options())
        .await
        .unwrap();
    let kept: String = sqlx::query_scalar("SELECT v FROM kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, "acknowledged");
    conn.close().await.unwrap();
    cluster.stop().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_dropped_cluster_is_stopped() {
    let dir =
        std::env::temp_dir().join(format!("wangge-embedded-{}", uuid::Uuid::new_v4().simple()));
    let cluster = EmbeddedPostgres::start(&dir).await.unwrap();
    drop(cluster);
    assert!(
        !dir.join("pg/postmaster.pid").exists(),
        "drop stops the server it started"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
