"""What keeps the data honest over time: messages whose receipt never came expired
(sweeper), campaigns erased after their retention period (retention)."""
