//! Waiting on several futures at once without a `futures` dependency.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

/// A future and, once it is done, its output.
type Slot<F> = (Pin<Box<F>>, Option<<F as Future>::Output>);

/// Polls every future on the current task until all are done; outputs in input order.
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut slots: Vec<Slot<F>> = futures.into_iter().map(|f| (Box::pin(f), None)).collect();
    std::future::poll_fn(|cx: &mut Context<'_>| {
        let mut pending = false;
        for (f, out) in slots.iter_mut() {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots.into_iter().filter_map(|(_, out)| out).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn runs_concurrently_and_keeps_order() {
        let start = tokio::time::Instant::now();
        let out = super::join_all([300u64, 100, 200].map(|ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        }))
        .await;
        assert_eq!(out, [300, 100, 200]);
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }
}
