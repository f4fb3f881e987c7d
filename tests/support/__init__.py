"""What tests share that is not a fixture: helpers imported by several test modules."""
