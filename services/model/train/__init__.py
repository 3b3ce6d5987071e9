"""The SageMaker training-job command `train`: image folder in, model artifact out.

    api              the public API: what other packages import (nothing else)
    command          `train`'s flags, the job runner, the failure file
    hyperparameters  Hyperparameters: SageMaker's all-string values, parsed with defaults
    settings         TrainSettings: the job's paths (SageMaker's, overridable)
    dataset          scan + validate an image folder; seeded stratified split
    embed            frozen EfficientNet-Lite0 embeddings through ONNX Runtime
    crossval         out-of-fold probabilities of k heads
    head             the linear head trained on the embeddings (torch)
    export           the classifier as model.onnx, checked against the trained head
    evaluate         metrics of the exported ONNX model on held-out images
    report           evaluation plot, model card
    smoke_set        writes and reads the artifact's smoke set
    thumbnails       small pictures of the misclassified images
    timing           step timer and progress lines
    job              the whole job as named steps over typed state

torch is imported only inside functions, so importing this package stays cheap.
"""
