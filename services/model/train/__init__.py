"""The SageMaker training-job command `train`: image folder in, model artifact out.

    hyperparameters  Hyperparameters: SageMaker's all-string values, parsed with defaults
    settings         TrainSettings: the job's paths (SageMaker's, overridable)
    dataset          scan + validate an image folder; seeded stratified split
    embed            frozen EfficientNet-Lite0 embeddings through ONNX Runtime
    head             the linear head trained on the embeddings (torch)
    evaluate         metrics of the exported ONNX model on held-out images
    report           evaluation plot, model card
    job              the whole job: validate -> embed -> train -> export -> evaluate -> write

torch is imported only inside functions, so importing this package stays cheap.
"""
