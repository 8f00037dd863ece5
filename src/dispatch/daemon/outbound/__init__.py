"""Messages on their way out: reader -> outlet -> (line feed) -> senders -> recorder, with
the retrier and the window waiter bringing back what must wait, and the last opt-out look
right before each batch goes to its gateway."""
