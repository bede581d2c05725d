//! The catalogue's pages against a real MySQL/MariaDB server: walked from the first page
//! to the last, they are the whole catalogue in sku order, with no gap and no duplicate;
//! a page's open restock request comes with it, as in the whole list.

mod common;

use common::{TestDb, ran_out};
use warehouse::products::{self, NewProduct};

/// Every sku, walking pages of `limit` from the first: the pages' skus and their sizes.
async fn walk(db: &TestDb, limit: u32) -> (Vec<String>, Vec<usize>) {
    let (mut skus, mut sizes) = (Vec::new(), Vec::new());
    let mut after: Option<String> = None;
    loop {
        let page = products::page(&db.pool, after.as_deref(), limit).await.unwrap();
        sizes.push(page.len());
        skus.extend(page.iter().map(|p| p.sku.clone()));
        match page.last() {
            Some(last) if page.len() == limit as usize => after = Some(last.sku.clone()),
            _ => return (skus, sizes),
        }
    }
}

#[tokio::test]
async fn pages_concatenate_to_the_whole_list_in_sku_order() {
    let db = TestDb::new().await;
    // Inserted out of order, some sharing prefixes, so the order is the database's.
    let added: Vec<NewProduct> = (0..53)
        .rev()
        .map(|i| NewProduct::test(&format!("PG-{}", i * 7 % 53), 5, 10))
        .collect();
    products::add(&db.pool, &added).await.unwrap();
    let whole: Vec<String> = products::list(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.sku)
        .collect();
    let mut sorted = whole.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(whole, sorted, "the whole list is by sku, each once");

    for limit in [1, 7, 10, 1000] {
        let (skus, sizes) = walk(&db, limit).await;
        assert_eq!(
            skus, whole,
            "pages of {limit} are the whole list, in order, no gap, no duplicate"
        );
        assert!(
            sizes[..sizes.len() - 1].iter().all(|&n| n == limit as usize),
            "every page but the last is full: {sizes:?}"
        );
    }
}

#[tokio::test]
async fn a_page_after_the_last_sku_is_empty_and_a_cursor_need_not_exist() {
    let db = TestDb::new().await;
    for sku in ["PG-A", "PG-C", "PG-E"] {
        db.product(sku, 1).await;
    }
    let skus = |page: Vec<products::Product>| page.into_iter().map(|p| p.sku).collect::<Vec<_>>();
    assert_eq!(
        skus(products::page(&db.pool, Some("PG-B"), 10).await.unwrap()),
        ["PG-C", "PG-E"]
    );
    assert!(products::page(&db.pool, Some("ZZZ"), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_page_shows_the_open_restock_request_as_the_whole_list_does() {
    let db = TestDb::new().await;
    let request = ran_out(&db, "PG-OUT").await;
    db.product("PG-IN", 3).await;
    let page = products::page(&db.pool, None, 10).await.unwrap();
    let out = page
        .iter()
        .find(|p| p.sku == "PG-OUT")
        .expect("the product that ran out");
    assert_eq!(out.restock.as_ref().map(|r| r.id.clone()), Some(request.to_string()));
    assert!(page.iter().find(|p| p.sku == "PG-IN").unwrap().restock.is_none());
}
