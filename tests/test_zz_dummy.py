def test_after_everything(qapp):
    qapp.processEvents()
